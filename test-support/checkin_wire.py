"""Check-in requests exactly as the upstream report_mirror client makes them, with Python's own json, bz2, base64 and
xmlrpc.client (the client runs on Python's standard library alone). For the tests of every package:

  python3 checkin_wire.py payload    < config.json   URL-safe base64 of bz2 of json.dumps(config)
  python3 checkin_wire.py payloads   < configs.json  the same for a JSON list of configs, as a JSON list
  python3 checkin_wire.py bz2        < bytes         URL-safe base64 of bz2 of any bytes
  python3 checkin_wire.py call       < request.json  {"method", "params"} as an XML-RPC method call body
  python3 checkin_wire.py response   < body.xml      {"value": ...} or {"fault": [code, string]} as JSON
  python3 checkin_wire.py checkin URL < config.json   sends the config to URL as the client does; prints the reply
  python3 checkin_wire.py report CONF                  what report_mirror does with its config file CONF: reads the
                                                       INI sections, walks each category's path (directories only,
                                                       links not followed), sends it to [global] server; prints the reply
"""
import base64
import bz2
import configparser
import json
import os
import sys
import xmlrpc.client

FIXED_SECTIONS = ("global", "site", "host", "stats")


def config_of(file):
    """The JSON a report_mirror config file becomes: every section a dict of strings, categories with a dirtree."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(file)
    config = {"version": 0}
    for section in parser.sections():
        values = dict(parser.items(section))
        if section in FIXED_SECTIONS:
            config[section] = values
            continue
        root = values.pop("path", None)
        dirtree = {}
        if root is not None and os.path.isdir(root):
            for top, dirs, _files in os.walk(root, followlinks=False):
                relative = os.path.relpath(top, root)
                dirtree["" if relative == "." else relative] = {}
        values["dirtree"] = dirtree
        config[section.lower()] = values
    return config

command = sys.argv[1]
if command == "payload":
    config = json.loads(sys.stdin.read())
    sys.stdout.write(base64.urlsafe_b64encode(bz2.compress(json.dumps(config).encode("utf-8"))).decode("ascii"))
elif command == "payloads":
    configs = json.loads(sys.stdin.read())
    print(json.dumps([
        base64.urlsafe_b64encode(bz2.compress(json.dumps(config).encode("utf-8"))).decode("ascii")
        for config in configs
    ]))
elif command == "bz2":
    sys.stdout.write(base64.urlsafe_b64encode(bz2.compress(sys.stdin.buffer.read())).decode("ascii"))
elif command == "call":
    request = json.loads(sys.stdin.read())
    sys.stdout.write(xmlrpc.client.dumps(tuple(request["params"]), request["method"]))
elif command == "response":
    try:
        (value,), _ = xmlrpc.client.loads(sys.stdin.read())
        print(json.dumps({"value": value}))
    except xmlrpc.client.Fault as fault:
        print(json.dumps({"fault": [fault.faultCode, fault.faultString]}))
elif command == "checkin":
    config = json.loads(sys.stdin.read())
    payload = base64.urlsafe_b64encode(bz2.compress(json.dumps(config).encode("utf-8"))).decode("ascii")
    sys.stdout.write(xmlrpc.client.ServerProxy(sys.argv[2]).checkin(payload))
elif command == "report":
    config = config_of(sys.argv[2])
    payload = base64.urlsafe_b64encode(bz2.compress(json.dumps(config).encode("utf-8"))).decode("ascii")
    sys.stdout.write(xmlrpc.client.ServerProxy(config["global"]["server"]).checkin(payload))
else:
    sys.exit("unknown command " + command)
