"""The box's own basics: preflight and boot services, firewall, SSH hardening, DuckDNS.

basics.py lists them in apply order (what BoxSetup runs); one module per feature.
"""
