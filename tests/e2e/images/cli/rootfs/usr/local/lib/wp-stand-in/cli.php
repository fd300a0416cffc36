<?php
/**
 * wp stand-in (tests/e2e/images/README.md): the command table, argument parsing, output, and
 * what is set up before WordPress loads. Every command runs WordPress's own functions against
 * the site's database; anything not in COMMANDS is refused (exit 2), never faked.
 */

namespace WpStandin;

const UNSUPPORTED_EXIT = 2;
const GLOBAL_FLAGS = ['path', 'url', 'quiet'];

/** "words" => [handler, load, accepted --flags, min positional args, max positional args]
 *  load: none (reads files only), installing (WP_INSTALLING, as wp-cli), wp (WordPress loaded) */
const COMMANDS = [
	'core version'        => ['core_version', 'none', [], 0, 0],
	'core is-installed'   => ['core_is_installed', 'installing', [], 0, 0],
	'core install'        => ['core_install', 'installing',
		['url', 'title', 'admin_user', 'admin_email', 'admin_password', 'skip-email', 'prompt'], 0, 0],
	'core update-db'      => ['core_update_db', 'wp', [], 0, 0],
	'cron event run'      => ['cron_event_run', 'wp', ['due-now', 'all', 'exclude'], 0, 1000],
	'cron event schedule' => ['cron_event_schedule', 'wp', [], 1, 3],
	'cron event list'     => ['cron_event_list', 'wp', ['fields', 'field', 'format'], 0, 0],
	'search-replace'      => ['search_replace', 'wp',
		['all-tables', 'skip-columns', 'report-changed-only', 'dry-run', 'precise', 'format'], 2, 1000],
	'option get'          => ['option_get', 'wp', ['format'], 1, 1],
	'option update'       => ['option_update', 'wp', ['format'], 2, 2],
	'user get'            => ['user_get', 'wp', ['field', 'fields', 'format'], 1, 1],
	'user list'           => ['user_list', 'wp', ['field', 'fields', 'format', 'role'], 0, 0],
	'user update'         => ['user_update', 'wp', ['user_pass', 'user_email', 'display_name', 'skip-email'], 1, 1],
	'user check-password' => ['user_check_password', 'wp', [], 2, 2],
	'post create'         => ['post_create', 'wp', ['post_title', 'post_content', 'post_status', 'post_type', 'porcelain'], 0, 0],
	'post get'            => ['post_get', 'wp', ['field', 'fields', 'format'], 1, 1],
	'post list'           => ['post_list', 'wp', ['post_type', 'post_status', 'field', 'fields', 'format'], 0, 0],
	'post delete'         => ['post_delete', 'wp', ['force'], 1, 1000],
	'eval'                => ['eval_php', 'wp', [], 1, 1],
];

function unsupported(string $what): never {
	fwrite(STDERR, "wp stand-in: unsupported: $what (tests/e2e/images/README.md lists what is)\n");
	exit(UNSUPPORTED_EXIT);
}
function error(string $message): never {
	fwrite(STDERR, "Error: $message\n");
	exit(1);
}
function warning(string $message): void { fwrite(STDERR, "Warning: $message\n"); }
function line(string $text): void { fwrite(STDOUT, $text . "\n"); }
function success(string $message): void {
	if (empty($GLOBALS['wp_standin']['quiet'])) {
		line("Success: $message");
	}
}

/** argv -> ['name', 'handler', 'load', 'args', 'assoc', 'path', 'url', 'quiet'] or refusal */
function parse(array $argv): array {
	$positional = $assoc = [];
	foreach (array_slice($argv, 1) as $arg) {
		if (preg_match('/^--([^=]+)=(.*)$/s', $arg, $m)) {
			$assoc[$m[1]] = $m[2];
		} elseif (preg_match('/^--no-(.+)$/', $arg, $m)) {
			$assoc[$m[1]] = false;
		} elseif (str_starts_with($arg, '--')) {
			$assoc[substr($arg, 2)] = true;
		} else {
			$positional[] = $arg;
		}
	}
	for ($n = min(3, count($positional)); $n > 0; $n--) {
		$name = implode(' ', array_slice($positional, 0, $n));
		if (isset(COMMANDS[$name])) {
			break;
		}
	}
	if ($n === 0) {  // the words and flag names only: a value may be a secret
		$flags = array_map(fn($f) => "--$f", array_keys($assoc));
		unsupported(trim('wp ' . implode(' ', [...array_slice($positional, 0, 3), ...$flags])));
	}
	[$handler, $load, $flags, $min, $max] = COMMANDS[$name];
	$args = array_slice($positional, $n);
	foreach (array_keys($assoc) as $flag) {
		if (!in_array($flag, $flags, true) && !in_array($flag, GLOBAL_FLAGS, true)) {
			unsupported("wp $name --$flag");
		}
	}
	if (count($args) < $min || count($args) > $max) {
		unsupported("wp $name with " . count($args) . ' positional argument(s)');
	}
	if (isset($assoc['prompt'])) {  // values read from stdin, one line each, never from argv
		foreach (explode(',', (string) $assoc['prompt']) as $key) {
			if (!in_array($key, $flags, true)) {
				unsupported("wp $name --prompt=$key");
			}
			$value = fgets(STDIN);
			$assoc[$key] = $value === false ? '' : rtrim($value, "\r\n");
		}
		unset($assoc['prompt']);
	}
	$path = rtrim(is_string($assoc['path'] ?? null) ? $assoc['path'] : getcwd(), '/');
	$global = ['path' => $path, 'url' => $assoc['url'] ?? null, 'quiet' => !empty($assoc['quiet'])];
	unset($assoc['path'], $assoc['quiet']);
	if ($name !== 'core install') {
		unset($assoc['url']);
	}
	return ['name' => $name, 'handler' => __NAMESPACE__ . "\\$handler", 'load' => $load,
		'args' => $args, 'assoc' => $assoc] + $global;
}

/** The request WordPress sees, from --url (wp-cli's set_url_params). */
function set_url(string $url): void {
	if (!preg_match('#^[a-z]+://#i', $url)) {
		$url = 'http://' . $url;
	}
	$p = parse_url($url);
	if (!$p || empty($p['host'])) {
		error("Invalid URL: $url");
	}
	$https = strtolower($p['scheme']) === 'https';
	$_SERVER['HTTP_HOST'] = $p['host'] . (isset($p['port']) ? ':' . $p['port'] : '');
	$_SERVER['SERVER_NAME'] = $p['host'];
	$_SERVER['SERVER_PORT'] = $p['port'] ?? ($https ? 443 : 80);
	$_SERVER['REQUEST_URI'] = ($p['path'] ?? '/') . (isset($p['query']) ? '?' . $p['query'] : '');
	$_SERVER['QUERY_STRING'] = $p['query'] ?? '';
	if ($https) {
		$_SERVER['HTTPS'] = 'on';
	}
}

/** Everything before WordPress loads; returns wp-load.php's path ('' when not loaded). */
function prepare(array $cmd): string {
	$abspath = $cmd['path'] . '/';
	if (!is_file($abspath . 'wp-includes/version.php')) {
		error("This does not seem to be a WordPress installation.\nPass --path=`path/to/wordpress` or run `wp core download`.");
	}
	if ($cmd['load'] === 'none') {
		return '';
	}
	if (!is_file($abspath . 'wp-config.php') && !is_file(dirname($abspath) . '/wp-config.php')) {
		error("'wp-config.php' not found.\nEither create one manually or use `wp config create`.");
	}
	$_SERVER += ['REQUEST_METHOD' => 'GET', 'SERVER_PROTOCOL' => 'HTTP/1.1', 'REMOTE_ADDR' => '127.0.0.1',
		'HTTP_USER_AGENT' => '', 'PHP_SELF' => '/index.php', 'SCRIPT_NAME' => '/index.php',
		'SCRIPT_FILENAME' => $abspath . 'index.php', 'REQUEST_URI' => '/'];
	if ($cmd['url'] !== null) {
		set_url((string) $cmd['url']);
	}
	if ($cmd['load'] === 'installing') {
		define('WP_INSTALLING', true);
	}
	// hooks in place before WordPress loads (it turns $wp_filter into WP_Hook objects):
	// wp_die() prints "Error: ..." and exits 1; a site not installed yet is an error, not the
	// silent redirect-and-exit-0 WordPress does for a web request
	$GLOBALS['wp_filter']['wp_die_handler'][10][] = [
		'function' => fn() => __NAMESPACE__ . '\\die_handler', 'accepted_args' => 1];
	$GLOBALS['wp_filter']['wp_redirect'][10][] = [
		'function' => __NAMESPACE__ . '\\redirect_while_loading', 'accepted_args' => 1];
	return $abspath . 'wp-load.php';
}

function die_handler($message, $title = '', $args = []): never {
	if (function_exists('is_wp_error') && is_wp_error($message)) {
		$message = $message->get_error_message();
	}
	$text = trim(html_entity_decode(strip_tags((string) $message), ENT_QUOTES));
	error($text !== '' ? $text : 'WordPress stopped (wp_die).');
}

function redirect_while_loading($location) {
	if (!did_action('wp_loaded')) {
		error("The site you have requested is not installed.\nRun `wp core install` to create database tables.");
	}
	return $location;
}

/** A list as wp-cli prints it: --field (one value a line), --fields, --format=table (what
 *  wp-cli prints when its output is piped: a header line, then tab-separated rows; on a
 *  terminal wp-cli draws boxes instead), json, csv, ids, count. */
function output(array $items, array $assoc, array $fields): void {
	if (isset($assoc['field'])) {
		foreach ($items as $item) {
			line((string) pick($item, [(string) $assoc['field']])[$assoc['field']]);
		}
		return;
	}
	if (is_string($assoc['fields'] ?? null)) {
		$fields = explode(',', $assoc['fields']);
	}
	$format = $assoc['format'] ?? 'table';
	$rows = array_map(fn($item) => pick($item, $fields), $items);
	switch ($format) {
		case 'table':
			line(implode("\t", $fields));
			foreach ($rows as $row) {
				line(implode("\t", array_map('strval', $row)));
			}
			return;
		case 'json':
			line(json_encode(array_values($rows)));
			return;
		case 'ids':
			line(implode(' ', array_column($items, 'ID')));
			return;
		case 'count':
			line((string) count($items));
			return;
		case 'csv':
			$out = fopen('php://output', 'w');
			fputcsv($out, $fields);
			foreach ($rows as $row) {
				fputcsv($out, $row);
			}
			return;
	}
	unsupported("--format=$format");
}

/** One record: --field, --fields, --format=table ("Field<TAB>Value" lines, piped) or json. */
function output_record(array $item, array $assoc, array $fields): void {
	if (isset($assoc['field'])) {
		line((string) pick($item, [(string) $assoc['field']])[$assoc['field']]);
		return;
	}
	$row = pick($item, is_string($assoc['fields'] ?? null) ? explode(',', $assoc['fields']) : $fields);
	$format = $assoc['format'] ?? 'table';
	if ($format === 'json') {
		line(json_encode($row));
	} elseif ($format === 'table') {
		line("Field\tValue");
		foreach ($row as $key => $value) {
			line("$key\t$value");
		}
	} else {
		unsupported("--format=$format");
	}
}

function pick(array $item, array $fields): array {
	$row = [];
	foreach ($fields as $field) {
		if (!array_key_exists($field, $item)) {
			error("Invalid field: $field.");
		}
		$row[$field] = $item[$field];
	}
	return $row;
}
