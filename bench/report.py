"""The bench's output: conditions of the run, markdown tables, targets, and the PNG plot."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "Django",
    "channels",
    "channels-redis",
    "daphne",
    "Twisted",
    "autobahn",
    "websockets",
    "redis",
    "psycopg",
)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def conditions(plan) -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "plan": plan.name,
        "machine": f"{cpu}, {os.cpu_count()} cores, {mem_kb // 2**20} GiB RAM",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "redis": _command(["redis-server", "--version"]).split(" ")[2:3],
        "postgres": _command(["psql", "--version"]),
        "load_before": load_average(),
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def _command(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return "-"


# ---------------------------------------------------------------- tables


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _servers(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in results.items() if isinstance(v, dict) and "label" in v]


def _a_row(results: dict[str, Any], key: str, clients: int) -> dict[str, Any] | None:
    for row in results.get(key, {}).get("A", []):
        if row.get("clients") == clients and "error" not in row:
            return row
    return None


def markdown(results: dict[str, Any]) -> str:
    c = results["conditions"]
    parts = [
        "## Conditions",
        "",
        f"- {c['date']}, plan `{c['plan']}`, {c.get('duration_s', '?')} s",
        f"- {c['machine']}; {c['os']}; Python {c['python']}",
        f"- Redis {''.join(c['redis'])}; {c['postgres']}",
        "- " + ", ".join(f"{k} {v}" for k, v in c["packages"].items()),
        f"- load average (1, 5, 15 min) before: {c['load_before']}; "
        f"after: {c.get('load_after', '?')}",
        "",
        "## A. Broadcast (public notes, one at a time)",
        "",
    ]
    rows = []
    for _key, res in _servers(results):
        for row in res.get("A", []):
            if "error" in row:
                rows.append([res["label"], row["clients"], "-", "-", "-", "-", row["error"]])
                continue
            rows.append(
                [
                    res["label"],
                    row["clients"],
                    row["p50_ms"],
                    row["p99_ms"],
                    row["last_ms"],
                    row["last_max_ms"],
                    _lost(row),
                ]
            )
    parts += [
        _table(
            [
                "server",
                "clients",
                "p50 ms",
                "p99 ms",
                "time to last client ms (median note)",
                "worst note ms",
                "lost",
            ],
            rows,
        ),
        "",
    ]
    b_rows = [
        [
            res["label"],
            b["users"],
            b["publish_rate"],
            b["p50_ms"],
            b["p99_ms"],
            b["max_ms"],
            b["lost"],
            b["misdelivered"],
        ]
        for _, res in _servers(results)
        if (b := res.get("B"))
    ]
    parts += [
        "## B. Targeted (each note to one random user)",
        "",
        _table(
            ["server", "users", "notes/s", "p50 ms", "p99 ms", "max ms", "lost", "misdelivered"],
            b_rows,
        ),
        "",
    ]
    c_rows = [
        [
            res["label"],
            s["clients"],
            f"{s['success_pct']} %",
            s["p50_s"],
            s["all_s"],
            s["lost_after"],
            ", ".join(f"{k} x{v}" for k, v in s["errors"].items()) or "-",
        ]
        for _, res in _servers(results)
        if (s := res.get("C"))
    ]
    parts += [
        "## C. Connect storm (all at once, fresh process)",
        "",
        _table(
            ["server", "clients", "connected", "p50 s", "all s", "lost after", "errors"],
            c_rows,
        ),
        "",
    ]
    ours = results.get("ours", {})
    d_rows = [
        [d["clients"], d["posts"], d["rate"], d["p50_ms"], d["p99_ms"], d["max_ms"], d["lost"]]
        for d in (ours.get("D0"), ours.get("D"))
        if d
    ]
    if d_rows:
        parts += [
            "## D. Publishing cost: `POST /api/news/` (ours)",
            "",
            _table(
                ["sockets connected", "posts", "per s", "p50 ms", "p99 ms", "max ms", "lost"],
                d_rows,
            ),
            "",
        ]
    e_rows = [
        [
            res["label"],
            e["clients"],
            e["baseline_mb"],
            e["with_clients_mb"],
            e["per_connection_kb"],
        ]
        for _, res in _servers(results)
        if (e := res.get("E"))
    ]
    parts += [
        "## E. Memory per idle connection",
        "",
        _table(["server", "sockets", "baseline MB", "with sockets MB", "KB per socket"], e_rows),
        "",
    ]
    if f := ours.get("F"):
        parts += [
            "## F. Resume (ours)",
            "",
            _table(
                ["missed notes", "median ms (to synced)", "best ms", "lost"],
                [[f["missed"], f["median_ms"], f["best_ms"], f["lost"]]],
            ),
            "",
        ]
    if w := ours.get("W"):
        from bench.writes import markdown as writes_markdown

        parts += [writes_markdown(w), ""]
    parts += ["## Targets", "", _targets(results), ""]
    return "\n".join(parts)


def _lost(row: dict[str, Any]) -> str:
    extra = [f"{k} {row[k]}" for k in ("duplicates", "out_of_order", "dropped_sockets") if row[k]]
    return str(row["lost"]) + (f" ({', '.join(extra)})" if extra else "")


def _targets(results: dict[str, Any]) -> str:
    ours = results.get("ours", {})
    rows = []

    def add(what: str, figure: str, met: bool | None) -> None:
        rows.append([what, figure, "-" if met is None else ("met" if met else "**missed**")])

    sizes = [r["clients"] for r in ours.get("A", []) if "error" not in r]
    size = 2000 if 2000 in sizes else max(sizes, default=0)
    a_ours, a_bare = _a_row(results, "ours", size), _a_row(results, "bare", size)
    if a_ours and a_bare:
        ratio = a_ours["last_ms"] / a_bare["last_ms"]
        add(
            f"broadcast to {size:,}: time to last <= 1.5x bare websockets",
            f"{ratio:.2f}x ({a_ours['last_ms']} vs {a_bare['last_ms']} ms)",
            ratio <= 1.5,
        )
        a_tut = _a_row(results, "tutorial", size)
        if a_tut:
            add(
                f"(for scale) tutorial pattern vs bare websockets, {size:,}",
                f"{a_tut['last_ms'] / a_bare['last_ms']:.2f}x",
                None,
            )
    if a5 := _a_row(results, "ours", 5000):
        add("5,000 clients held by one daphne process", f"lost {a5['lost']}", a5["lost"] == 0)
    if s := ours.get("C"):
        add(
            f"connect storm of {s['clients']}: 100 % connected",
            f"{s['success_pct']} % in {s['all_s']} s",
            s["success_pct"] == 100.0,
        )
    if b := ours.get("B"):
        add(
            f"targeted at {b['rate']:g}/s to {b['users']} users: p99 <= 50 ms",
            f"{b['p99_ms']} ms",
            b["p99_ms"] <= 50,
        )
    if e := ours.get("E"):
        add(
            "<= 25 KB per idle connection",
            f"{e['per_connection_kb']} KB",
            e["per_connection_kb"] <= 25,
        )
    if d := ours.get("D"):
        add(
            f"POST /api/news/ with {d['clients']} connected: p50 <= 20 ms",
            f"p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms",
            d["p50_ms"] <= 20,
        )
    lost = 0
    for _, res in _servers(results):
        if res is not ours:
            continue
        lost += sum(r.get("lost") or 0 for r in res.get("A", []))
        for key in ("B", "C", "D", "D0", "F"):
            lost += (res.get(key) or {}).get("lost") or (res.get(key) or {}).get("lost_after") or 0
    add("zero notes lost (ours, every workload)", str(lost), lost == 0)
    return _table(["target", "figure", "status"], rows)


# ---------------------------------------------------------------- plot


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colours = {"ours": "tab:blue", "tutorial": "tab:red", "tutorial-core": "tab:orange"}
    for key, res in _servers(results):
        rows = [r for r in res.get("A", []) if "error" not in r]
        if not rows:
            continue
        xs = [r["clients"] for r in rows]
        colour = colours.get(key, "tab:green")
        ax.plot(xs, [r["last_ms"] for r in rows], "o-", color=colour, label=f"{res['label']}: last")
        ax.plot(xs, [r["p50_ms"] for r in rows], "s--", color=colour, alpha=0.6, label="  p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = sorted(
        {r["clients"] for _, res in _servers(results) for r in res.get("A", []) if "error" not in r}
    )
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("connected clients (one process)")
    ax.set_ylabel("latency from commit/publish, ms")
    ax.set_title(f"Broadcast latency ({results['conditions']['plan']} run)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
