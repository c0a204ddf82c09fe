"""Where the memory of a ``batch --jobs N`` run goes (issue 14): runs ``ecscreen batch`` in this process with a
probe. Each process (the CLI and its forked workers), when it has screened each of ``DUMP_ROWS`` rows
(comma-separated), writes ``$PROBE_OUT.<pid>.<rows>.json``: its smaps_rollup (MB), pymalloc arena statistics,
gc counts, and per memo of the engine, the batch screener and the party memo its length and (``PROBE_DEEP=1``)
its deep size in MB (objects reachable from it not counted before; what the registry, lists and list matcher
reach is counted first, as ``shared_mb``). A worker also writes ``$PROBE_OUT.init.json`` when it starts (its and
the parent's rollup right after the fork). ``PROBE_CHART_SPLIT=1``: the chart memo's parts and the cost of
re-making a line; ``PROBE_GC=1``: a full collection after the dump (what it frees); ``PROBE_TRACE_FREEZE=1``:
a stack per ``gc.freeze()`` call (lazy loads after the fork). The deep walk writes reference counts: take PSS
figures of the other process from ``bench_batch.py``, not from a dump taken after another process's walk.

  PYTHONPATH=src DUMP_ROWS=400000 PROBE_DEEP=1 PROBE_OUT=/tmp/probe python benchmarks/batch_memory_probe.py \
      batch /tmp/erp1m-today.csv --out /tmp/out.csv --no-progress --no-record --jobs 2
"""
import gc
import json
import os
import sys
import time

DUMP_ROWS = [int(x) for x in os.environ.get("DUMP_ROWS", "400000").split(",")]
DEEP = os.environ.get("PROBE_DEEP", "1") == "1"
OUT = os.environ.get("PROBE_OUT", "/tmp/h62/probe")

from ecscreen.runners import batch as B  # noqa: E402

_orig = B._worker_chunk
_state = {"rows": 0, "dumped": 0}


def _rollup():
    got = {}
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            k = line.split(":")[0]
            if k in ("Rss", "Pss", "Pss_Anon", "Private_Dirty", "Private_Clean", "Shared_Dirty", "Shared_Clean", "Anonymous"):
                got[k] = int(line.split()[1]) // 1024
    return got


def _deep(root, seen, skip_types):
    size = 0
    stack = [root]
    while stack:
        o = stack.pop()
        i = id(o)
        if i in seen:
            continue
        seen.add(i)
        if isinstance(o, skip_types):
            continue
        try:
            size += sys.getsizeof(o)
        except TypeError:
            continue
        stack.extend(gc.get_referents(o))
    return size


def _mallocstats():
    import tempfile
    with tempfile.TemporaryFile(mode="w+") as tf:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tf.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tf.seek(0)
        lines = tf.read().splitlines()
    return [ln for ln in lines if ln.startswith("#") or "bytes in" in ln or "arenas" in ln or "Total" in ln][-40:]


def dump():
    t0 = time.process_time()
    import types
    eng = B._WORKER.get("engine")
    sc = B._WORKER.get("screener")
    memo = B._WORKER.get("memo")
    ms = _mallocstats()
    rep = {"pid": os.getpid(), "rows": _state["rows"], "rollup": _rollup(), "gc_counts": gc.get_count(), "mallocstats0": ms,
           "freeze": gc.get_freeze_count()}
    skip = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.CodeType)
    seen = set()
    # shared roots: marked, not counted
    from ecscreen.engine import chart as C
    shared = [eng.registry, eng.lists, eng.matcher, eng.allowlist, [cp.pack for cp in eng.compiled],
              [cp.rules for cp in eng.compiled], memo.lists if memo else None, memo.pack if memo else None]
    rep["shared_mb"] = round(sum(_deep(s, seen, skip) for s in shared) / 2**20, 1) if DEEP else None
    items = []
    # containers whose memos are counted one by one: not traversed through
    for o in [eng, sc, memo, C.chart_index(eng.registry), *eng.compiled]:
        seen.add(id(o))

    def add(name, obj):
        n = len(obj) if hasattr(obj, "__len__") else None
        items.append((name, n, round(_deep(obj, seen, skip) / 2**20, 2) if DEEP else None))

    for k, cp in enumerate(eng.compiled):
        for a in ("_cand", "_plans", "_plan_forms", "_masks", "_item_skip", "_ship_false", "_split"):
            if hasattr(cp, a):
                add(f"cp{k}.{a}", getattr(cp, a))
    if os.environ.get("PROBE_CHART_SPLIT"):
        tpl = list(eng._chart_memo.values())
        add("chart.lines", [t.lines for t in tpl])
        add("chart.strs", eng._chart_strs)
        add("chart.findings", [t.findings for t in tpl])
        add("chart.notes", [t.notes for t in tpl])
        add("chart.errors", [t.errors for t in tpl])
        add("chart.plan", [t.plan for t in tpl])
        import collections
        rep["chart_findings_per_entry"] = collections.Counter(len(t.findings) for t in tpl).most_common(8)
        rep["chart_lines_per_entry"] = collections.Counter(len(t.lines) for t in tpl).most_common(4)
        rep["chart_plan_none"] = sum(1 for t in tpl if t.plan == (None, None, None))
        rep["chart_hits_runs"] = (eng.chart_hits, eng.chart_runs)
        import timeit
        withf = [t for t in tpl if t.findings]
        nof = [t for t in tpl if not t.findings]
        def rebuild(ts):
            for t in ts:
                t.lines.clear()
                t.for_line(3)  # index >= LINES_KEPT: not kept
        for name, ts in (("with_findings", withf), ("no_findings", nof)):
            n = len(ts)
            if n:
                sec = min(timeit.repeat(lambda ts=ts: rebuild(ts), number=3, repeat=3)) / 3
                rep[f"for_line_us_{name}"] = (n, round(sec / n * 1e6, 2))
    add("engine._chart_memo", eng._chart_memo)
    add("engine._chart_strs", eng._chart_strs)
    add("engine._plan_memo", eng._plan_memo)
    if hasattr(eng, "_plan_forms"):
        add("engine._plan_forms", eng._plan_forms)
    add("engine._item_profiles", eng._item_profiles)
    add("engine._profile_ids", eng._profile_ids)
    add("engine._codes_memo", eng._codes_memo)
    add("engine._party_inputs", eng._party_inputs)
    add("engine._item_inputs", eng._item_inputs)
    for k, cp in enumerate(eng.compiled):
        for nm, nl in cp._names_lists.items():
            add(f"cp{k}.names[{nm}]", nl)
        add(f"cp{k}._names_union", cp._names_union)
    idx = C.chart_index(eng.registry)
    add("chart._sets", idx._sets)
    from ecscreen.engine import jurisdiction as J
    f = J._compiled_for(eng.registry)
    if f:
        add("jur.origin_memo", f[0].origin_memo)
        add("jur.location_memo", f[0].location_memo)
        add("jur._ref_cache", f[0]._ref_cache)
        add("jur._ccl_cache", f[0]._ccl_cache)
    ix = getattr(eng.registry, J._ITAR_ATTR, None)
    if ix is not None:
        add("jur.itar.plain_texts", ix.plain_texts)
    if sc is not None:
        add("screener.cache", sc.cache)
        add("screener._party_objs", sc._party_objs)
        add("screener._item_objs", sc._item_objs)
    if memo is not None:
        for a in ("cache", "infos", "fresh", "_reindexed", "_ships", "_shared"):
            add(f"partymemo.{a}", getattr(memo, a))
    # module-level caches of the engine and batch modules
    for modname, mod in list(sys.modules.items()):
        if not modname.startswith("ecscreen"):
            continue
        for a, v in list(vars(mod).items()):
            if isinstance(v, (dict, set, list)) and len(v) > 50:
                add(f"{modname}.{a}", v)
            elif hasattr(v, "cache_info"):
                items.append((f"{modname}.{a} (lru)", v.cache_info().currsize, None))
    items.sort(key=lambda t: (-(t[2] or 0), -(t[1] or 0)))
    rep["memos"] = items
    rep["memos_total_mb"] = round(sum(t[2] or 0 for t in items), 1)
    rep["probe_cpu_s"] = round(time.process_time() - t0, 1)
    if os.environ.get("PROBE_GC"):
        rep["gc_before"] = _rollup()
        rep["gc_counts_before"] = gc.get_count()
        t1 = time.process_time()
        rep["gc_freed"] = gc.collect()
        rep["gc_cpu_s"] = round(time.process_time() - t1, 2)
        rep["gc_after"] = _rollup()
        rep["mallocstats_after_gc"] = _mallocstats()
    rep["mallocstats"] = _mallocstats()
    with open(f"{OUT}.{os.getpid()}.{rep['rows']}.json", "w") as fh:
        json.dump(rep, fh, indent=1)


def wrapped(orders):
    out = _orig(orders)
    _state["rows"] += sum(len(o.rows) if hasattr(o, "rows") else len(o[1]) for o in orders)
    if _state["dumped"] < len(DUMP_ROWS) and _state["rows"] >= DUMP_ROWS[_state["dumped"]]:
        _state["dumped"] += 1
        dump()
    return out


B._worker_chunk = wrapped

_orig_init = B._worker_signals


def _rollup_of(pid):
    got = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            k = line.split(":")[0]
            if k in ("Rss", "Pss", "Private_Dirty", "Shared_Dirty", "Shared_Clean", "Anonymous"):
                got[k] = int(line.split()[1]) // 1024
    return got


def init_probe():
    _orig_init()
    with open(f"{OUT}.init.json", "w") as fh:
        json.dump({"worker": _rollup_of(os.getpid()), "parent": _rollup_of(os.getppid()), "freeze": gc.get_freeze_count(),
                   "counts": gc.get_count(), "thr": gc.get_threshold()}, fh)


B._worker_signals = init_probe

_PARENT = os.getpid()
_real_freeze = gc.freeze


def _traced_freeze():
    if os.environ.get("PROBE_TRACE_FREEZE"):
        import traceback
        with open(f"{OUT}.freeze.{os.getpid()}.txt", "a") as fh:
            fh.write(f"--- pid {os.getpid()} parent={_PARENT} rows={_state['rows']} count={gc.get_freeze_count()}\n")
            fh.write("".join(traceback.format_stack(limit=14)))
    _real_freeze()


gc.freeze = _traced_freeze

if __name__ == "__main__":
    from ecscreen.cli.main import main
    sys.argv = ["ecscreen", *sys.argv[1:]]
    sys.exit(main())
