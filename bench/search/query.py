#!/usr/bin/env python3
"""Times Vigil's search API over one keep-alive HTTPS connection: each case runs `--runs` times
(after one warm-up), and prints a Markdown row with the median and p99 in milliseconds and the
number of items the last answer held. Usage: query.py URL COOKIE CSRF CASES_FILE RUNS
CASES_FILE lines: <label>\t<path?query>"""
import http.client, json, ssl, statistics, sys, time, urllib.parse

url, cookie, csrf, cases_file, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(url)
ctx = ssl._create_unverified_context()
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
headers = {"Cookie": "vigil_session=" + cookie, "X-CSRF-Token": csrf}

def get(path):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"bench: {path} -> {r.status} {body[:300]!r}")
    return json.loads(body)

for line in open(cases_file):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    label, path = line.split("\t")
    get(path)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        doc = get(path)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    print(f"| {label} | `{urllib.parse.unquote(path)}` | {statistics.median(times):.1f} | {p99:.1f} | {len(doc.get('items', []))} |", flush=True)
