"""Process entry points for the multi-process benchmarks (started with the spawn method).

A worker warms up, builds its inputs, then meets the parent at a barrier for each repeat, runs
its orders and reports start/end (time.perf_counter is CLOCK_MONOTONIC on Linux, one clock for
every process, so the parent can take the span from the first start to the last end).
"""

from __future__ import annotations

import http.client
import json
import time
import traceback

import common


def _full(order_create, order_transition, inp, acts) -> None:
    """create + pending→scheduled + scheduled→materials_ready (BOM kitting guard + reserve)."""
    order = order_create(data=inp, actor=acts["sales"]).order
    r = order_transition(order=order.number, to="scheduled", actor=acts["service"])
    if not r.ok:
        raise RuntimeError(f"pending→scheduled blocked: {r.reasons}")
    r = order_transition(order=order.number, to="materials_ready", actor=acts["planner"])
    if not r.ok:
        raise RuntimeError(f"scheduled→materials_ready blocked: {r.reasons}")


def service_worker(cfg: common.Config, wid: int, mode: str, barrier, queue) -> None:
    """Create orders through ``orderhub.orders.services`` (mode 'create' or 'full')."""
    try:
        common.bootstrap(cfg.database_url)
        from orderhub.orders.services import order_create, order_create_batch, order_transition

        acts = common.actors()
        factory = common.InputFactory(seed=cfg.seed * 1000 + wid, lines=cfg.lines,
                                      tag=f"{mode}-{cfg.seed}-w{wid}")

        def one(inp):
            if mode == "create":
                order_create(data=inp, actor=acts["sales"])
            elif mode == "batch":  # inp is a list of cfg.batch inputs, one transaction
                res = order_create_batch(items=inp, actor=acts["sales"])
                bad = [r for r in res if not r.created]
                if bad:
                    raise RuntimeError(f"{len(bad)} of {len(res)} not created: {bad[0].error}")
            else:
                _full(order_create, order_transition, inp, acts)

        def make(k):
            if mode != "batch":
                return [factory.order_input() for _ in range(k)]
            items = [factory.order_input() for _ in range(k)]
            return [items[i:i + cfg.batch] for i in range(0, k, cfg.batch)]

        for inp in make(cfg.warmup):
            one(inp)
    except Exception:  # the parent must not wait forever at the barrier
        queue.put({"wid": wid, "fatal": traceback.format_exc()})
        barrier.abort()
        return
    barrier.wait()  # everyone warmed up (the parent then checks the machine is quiet)

    for rep in range(cfg.repeat):
        inputs = make(cfg.orders)
        size = cfg.batch if mode == "batch" else 1
        lat: list[float] = []
        errors: list[str] = []
        barrier.wait()
        c0 = time.process_time()
        t0 = time.perf_counter()
        for inp in inputs:
            s = time.perf_counter()
            try:
                one(inp)
            except Exception as exc:  # counted, reported, never hidden
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            lat.append(time.perf_counter() - s)
        t1 = time.perf_counter()
        queue.put({"wid": wid, "rep": rep, "t0": t0, "t1": t1, "n": len(inputs) * size,
                   "cpu_s": time.process_time() - c0,
                   "ok": (len(inputs) - len(errors)) * size, "errors": errors[:5],
                   "error_count": len(errors), "lat": lat})


# --------------------------------------------------------------------------- HTTP load client


def http_client(host: str, port: int, token: str, seed: int, lines: int, n: int, warmup: int,
                repeat: int, barrier, queue) -> None:
    """POST /api/orders over one keep-alive HTTPConnection (reconnects when the server
    closes, as gunicorn's sync worker does after every response)."""
    factory = common.InputFactory(seed=seed, lines=lines, tag=f"http-{seed}")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json"}
    conn = http.client.HTTPConnection(host, port, timeout=60)
    state = {"connects": 0, "server_closed": 0}
    samples: list[str] = []

    def post(body: bytes) -> int:
        if conn.sock is None:
            state["connects"] += 1
        conn.request("POST", "/api/orders", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.will_close:
            state["server_closed"] += 1
        if resp.status != 201 and len(samples) < 3:
            samples.append(f"{resp.status}: {data[:300]!r}")
        return resp.status

    try:
        for _ in range(warmup):
            post(json.dumps(factory.payload()).encode())
    except Exception:
        queue.put({"seed": seed, "fatal": traceback.format_exc()})
        barrier.abort()
        return
    barrier.wait()  # everyone warmed up

    for rep in range(repeat):
        bodies = [json.dumps(factory.payload()).encode() for _ in range(n)]
        statuses: dict[str, int] = {}
        errors: list[str] = []
        lat: list[float] = []
        state.update(connects=0, server_closed=0)
        samples.clear()
        barrier.wait()
        c0 = time.process_time()
        t0 = time.perf_counter()
        for body in bodies:
            s = time.perf_counter()
            try:
                code = str(post(body))
            except Exception as exc:
                code = "exception"
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                conn.close()
            statuses[code] = statuses.get(code, 0) + 1
            lat.append(time.perf_counter() - s)
        t1 = time.perf_counter()
        queue.put({"seed": seed, "rep": rep, "t0": t0, "t1": t1, "n": n, "statuses": statuses,
                   "cpu_s": time.process_time() - c0,
                   "errors": errors[:5], "lat": lat, "non_201_samples": list(samples), **state})
    conn.close()
