"""Freshness audit of a g-counter history: absent partitions, does every read
include every add acknowledged >= 1 s before the read was invoked?"""
import json, sys, bisect
ops = [json.loads(l) for l in open(sys.argv[1])]
S = 1e9
cuts, start = [], None
for o in ops:
    if o["process"] == "nemesis" and o["type"] == "info":
        if o["f"] == "start-partition" and start is None: start = o["time"]
        if o["f"] == "stop-partition" and start is not None: cuts.append((start, o["time"])); start = None
if start is not None: cuts.append((start, float("inf")))
adds = sorted((o["time"], o["value"]) for o in ops if o["f"] == "add" and o["type"] == "ok")
times = [t for t, _ in adds]; pref = [0]
for _, v in adds: pref.append(pref[-1] + v)
inv = {}
checked = stale = cut_stale = cut_reads = 0; worst = None
for o in ops:
    if o["process"] == "nemesis": continue
    if o["type"] == "invoke": inv[o["process"]] = o; continue
    if o["f"] != "read" or o["type"] != "ok" or o.get("final?"): continue
    t = inv[o["process"]]["time"]
    must = pref[bisect.bisect_right(times, t - 1 * S)]
    # Absent partitions: none active in the read's 1 s window.
    in_cut = any(a < t and t - 1 * S < b for a, b in cuts)
    if in_cut:
        cut_reads += 1; cut_stale += o["value"] < must; continue
    checked += 1
    if o["value"] < must:
        stale += 1
        if worst is None or must - o["value"] > worst[0]: worst = (must - o["value"], t / S)
print(f"reads checked (no partition in window): {checked}, stale: {stale}, worst: {worst}; reads near partitions: {cut_reads}, of which behind the 1 s bound: {cut_stale}")
