"""Check-in requests exactly as the upstream report_mirror client makes them, with Python's own json, bz2, base64 and
xmlrpc.client (the client runs on Python's standard library alone). For the tests of every package:

  python3 checkin_wire.py payload    < config.json   URL-safe base64 of bz2 of json.dumps(config)
  python3 checkin_wire.py payloads   < configs.json  the same for a JSON list of configs, as a JSON list
  python3 checkin_wire.py bz2        < bytes         URL-safe base64 of bz2 of any bytes
  python3 checkin_wire.py call       < request.json  {"method", "params"} as an XML-RPC method call body
  python3 checkin_wire.py response   < body.xml      {"value": ...} or {"fault": [code, string]} as JSON
  python3 checkin_wire.py checkin URL < config.json   sends the config to URL as the client does; prints the reply
"""
import base64
import bz2
import json
import sys
import xmlrpc.client

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
else:
    sys.exit("unknown command " + command)
