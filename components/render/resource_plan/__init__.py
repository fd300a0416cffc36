"""OUT_DIR/plan/ of the render CLI: every resource `pulumi up` would register.

dump.py records them by running the program under mocks, view.py writes the readable YAML
views, boxes.py tells which box each resource acts on (a `wpfleet:boxes` stack).
"""
