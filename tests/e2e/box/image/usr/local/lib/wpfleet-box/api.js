// Stand-in for the seed's backend API (a Node.js app on 127.0.0.1:8180): answers every request
// with JSON naming what it received, so a test sees the path, Host and X-Forwarded-* headers
// that Apache passed on. GET /api/health answers {"ok":true}.
"use strict";
const http = require("http");
const port = Number(process.env.PORT || 8180);
const host = process.env.HOST || "127.0.0.1";
http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const forwarded = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (k.startsWith("x-forwarded-") || k === "forwarded" || k === "via") forwarded[k] = v;
    }
    const body = JSON.stringify({
      service: "wpfleet-box-api",
      ok: true,
      method: req.method,
      path: req.url.split("?")[0],
      url: req.url,
      host: req.headers.host || null,
      forwarded,
      bodyBytes: Buffer.concat(chunks).length,
    }) + "\n";
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(port, host, () => console.log(`wpfleet-box-api listening on ${host}:${port}`));
