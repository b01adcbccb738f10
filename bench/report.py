"""Render the benchmark results: a markdown table with ratios, the targets, and the JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin (written by bench/run.py; edit outside these markers) -->"
END = "<!-- bench:end -->"

TARGETS = [
    # (scenario, cache, latency, limit in seconds, what)
    ("lock", "warm", 0, 0.4, "warm lock <= 0.4 s"),
    ("lock", "cold", 50, 1.5, "cold lock at 50 ms <= 1.5 s"),
    ("noop", "warm", 0, 0.25, "no-op install <= 0.25 s"),
]
RATIO_TARGETS = [
    # (scenario, cache, latency, most jetpip/uv, what): from the install issue
    ("install", "cold", 0, 1.5, "install into a fresh venv, cold cache, <= 1.5x uv"),
    ("install", "cold", 50, 1.5, "install into a fresh venv, cold cache at 50 ms, <= 1.5x uv"),
    ("install", "warm", 0, 1.5, "install into a fresh venv, warm cache, <= 1.5x uv"),
    ("big", "cold", 50, 1.2, "install of the big torch, cold cache at 50 ms, <= 1.2x uv"),
]
LABELS = {"big": "install big torch", "big-link": "install big torch, 50 MB/s link",
          "sync": "sync of jetpip's lock"}


Key = tuple[str, str, int, str]  # scenario, cache, latency ms, scheme


def _key(row: dict[str, Any]) -> Key:
    return row["scenario"], row["cache"], row["latency_ms"], row.get("scheme", "http")


def _by_tool(results: dict[str, Any]) -> dict[tuple[str, str, int, str, str], dict[str, Any]]:
    """Each row of ``results`` by its scenario key and its tool."""
    return {(*_key(r), r["tool"]): r for r in results["rows"]}


def _median(row: dict[str, Any]) -> float | None:
    return row["wall_s"]["median"] if "wall_s" in row and row["wall_s"]["median"] > 0 else None


def ratios(rows: list[dict[str, Any]]) -> dict[Key, dict[str, float | None]]:
    """jetpip's median wall time over pip's and uv's, per scenario."""
    out: dict[Key, dict[str, float | None]] = {}
    groups: dict[Key, dict[str, dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_key(r), {})[r["tool"]] = r
    for key, by_tool in groups.items():
        j = by_tool.get("jetpip", {})
        out[key] = {}
        for other in ("pip", "uv"):
            o = by_tool.get(other, {})
            if "wall_s" in j and "wall_s" in o and o["wall_s"]["median"] > 0:
                out[key][other] = round(j["wall_s"]["median"] / o["wall_s"]["median"], 3)
            else:
                out[key][other] = None
    return out


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the resolver, index and install issues, met or not, with the figure."""
    rows = _by_tool(results)
    names = results["meta"].get("names", 0)
    out = []
    for scenario, cache, latency, limit, what in TARGETS:
        r = rows.get((scenario, cache, latency, "http", "jetpip"), {})
        if not r:
            continue  # a group left out with --only
        if "wall_s" not in r:
            out.append({"target": what, "met": None, "figure": r.get("status", "no row")})
            continue
        med = r["wall_s"]["median"]
        met = med <= limit
        figure = f"{med:.3f} s median"
        if (scenario, cache, latency) == ("lock", "cold", 50):
            req = r["requests"]
            pages, meta = req.get("page", 0), req.get("metadata", 0)
            # One page per name, plus the flat redist listing the JetPack 6 route also reads.
            ok_req = pages <= names + 1 and meta <= names and r["duplicate_pages"] == 0
            met = met and ok_req
            figure += (
                f"; {pages} page requests for {names} names, {meta} metadata requests, "
                f"{req.get('file', 0)} file requests, {r['duplicate_pages']} pages fetched twice"
            )
        out.append({"target": what, "met": met, "figure": figure})
    rat = ratios(results["rows"])
    for scenario, cache, latency, most, what in RATIO_TARGETS:
        key = (scenario, cache, latency, "http")
        r, u = rows.get((*key, "jetpip"), {}), rows.get((*key, "uv"), {})
        ratio = rat.get(key, {}).get("uv")
        if ratio is None:
            if r or u:
                why = r.get("status", "no row") if "wall_s" not in r else u.get("status", "no row")
                out.append({"target": what, "met": None, "figure": why})
            continue
        figure = f"{ratio:.2f}x ({r['wall_s']['median']:.3f} s against uv's {u['wall_s']['median']:.3f} s)"
        out.append({"target": what, "met": ratio <= most, "figure": figure})
    return out


def _fmt_req(req: dict[str, int] | None) -> str:
    if not req:
        return "-"
    return f"{req.get('total', 0)} ({req.get('page', 0)}/{req.get('metadata', 0)}/{req.get('file', 0)})"


def table(results: dict[str, Any]) -> str:
    rat = ratios(results["rows"])
    lines = [
        "| scenario | cache | latency | tool | wall median (min-max) s | CPU s | peak RSS MB tree (own) "
        "| requests total (pages/metadata/files) | jetpip/pip | jetpip/uv | status |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["rows"]:
        if "wall_s" in r:
            w = r["wall_s"]
            wall = f"{w['median']:.3f} ({w['min']:.3f}-{w['max']:.3f})"
            cpu, req = f"{r['cpu_s']:.2f}", _fmt_req(r["requests"])
            rss = f"{r['peak_rss_mb']:.0f}" + (f" ({r['main_rss_mb']:.0f})" if r.get("main_rss_mb") else "")
        else:
            wall = cpu = rss = req = "-"
        pip_r = uv_r = ""
        if r["tool"] == "jetpip":
            ra = rat.get(_key(r), {})
            pip_r = f"{ra['pip']:.2f}" if ra.get("pip") is not None else "-"
            uv_r = f"{ra['uv']:.2f}" if ra.get("uv") is not None else "-"
        status = r["status"] + (f": {r['note']}" if r.get("note") else "")
        status = status.replace("|", "\\|").replace("\n", " ")[:160]
        scenario = LABELS.get(r["scenario"], r["scenario"])
        scenario += " over https" if r.get("scheme") == "https" else ""
        lines.append(
            f"| {scenario} | {r['cache']} | {r['latency_ms']} ms | {r['tool']} | {wall} | {cpu} "
            f"| {rss} | {req} | {pip_r} | {uv_r} | {status} |"
        )
    return "\n".join(lines)


def block(results: dict[str, Any]) -> str:
    meta = results["meta"]
    v = meta["versions"]
    targets = check_targets(results)
    results = {
        **results,
        "targets": targets,
        **({"ab": ab_compare(results)} if results["meta"].get("ab") else {}),
        "ratios": [
            {
                "scenario": k[0],
                "cache": k[1],
                "latency_ms": k[2],
                "scheme": k[3],
                "jetpip/pip": r.get("pip"),
                "jetpip/uv": r.get("uv"),
            }
            for k, r in ratios(results["rows"]).items()
        ],
    }
    tlines = []
    for t in targets:
        mark = "met" if t["met"] else ("MISSED" if t["met"] is False else "not measured")
        tlines.append(f"- {t['target']}: **{mark}** ({t['figure']})")
    return "\n".join(
        [
            BEGIN,
            f"Run of {meta['date']} ({meta['mode']} mode, {meta['repeat']} run(s) per tool and scenario, "
            f"tools alternating) on {meta['machine']}; Python {v['python']}, {v['pip']}, {v['uv']}, "
            f"{v['jetpip']}. "
            f"Requirements: `{' '.join(meta['roots'])}` ({meta['names']} packages).",
            *(
                [
                    "",
                    f"{meta['rows_left_out']} rows of the real pages were left out (`--skip-bad-names`): "
                    "wheel names that packaging rejects, such as `pydantic-0.18-py36+-none-any.whl`.",
                ]
                if meta.get("rows_left_out")
                else []
            ),
            "",
            table(results),
            "",
            "Targets:",
            "",
            *tlines,
            *after_fetch_lines(results),
            *bytecode_lines(results),
            *big_lines(results),
            *https_lines(results),
            *ab_lines(results),
            "",
            "<details><summary>results as JSON</summary>",
            "",
            "```json",
            compact_json(results),
            "```",
            "",
            "</details>",
            END,
        ]
    )


def compact_json(results: dict[str, Any]) -> str:
    """``results`` as JSON, each item of a top-level list on a line of its own (rows, targets, ratios)."""
    lines = ["{"]
    items = list(results.items())
    for i, (key, value) in enumerate(items):
        end = "," if i < len(items) - 1 else ""
        if isinstance(value, list):
            inner = ",\n".join(f"  {json.dumps(v)}" for v in value)
            lines.append(f" {json.dumps(key)}: [\n{inner}\n ]{end}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{end}")
    lines.append("}")
    return "\n".join(lines)


def bytecode_lines(results: dict[str, Any]) -> list[str]:
    """Which tools write bytecode at install: each runs with its own default."""
    got = results["meta"].get("bytecode")
    if not got:
        return []
    return ["", "Bytecode at install, each tool with its default:", "",
            *(f"- {tool}: {how}" for tool, how in got.items() if how)]


def after_fetch_lines(results: dict[str, Any]) -> list[str]:
    """uv-files beside uv, for each ratio target: how long the part after a fetch takes alone.

    jetpip fetches every file before its engine runs, so its install takes its start, resolution
    and fetch, plus about uv-files' time, less what uv unpacked ahead meanwhile. What a ratio
    target leaves for the part before is the target's bound on uv's time, less uv-files'.
    """
    rows = _by_tool(results)
    out = []
    for scenario, cache, latency, most, _ in RATIO_TARGETS:
        after = _median(rows.get((scenario, cache, 0, "http", "uv-files"), {}))
        whole = _median(rows.get((scenario, cache, latency, "http", "uv"), {}))
        if after is None or whole is None:
            continue
        what = f"{LABELS.get(scenario, scenario)}, {cache} cache, {latency} ms"
        out.append(f"- {what}: uv-files {after:.3f} s, {after / whole:.2f} of uv's whole install "
                   f"({whole:.3f} s); {most}x uv leaves "
                   f"{most * whole - after:.3f} s for jetpip's start, resolution and fetch")
    if not out:
        return []
    return ["", "The part after the fetch: uv-files is uv installing jetpip's plan from files already on "
            "local disk, as one step (it asks the mirror for nothing):", "", *out]


def big_lines(results: dict[str, Any]) -> list[str]:
    """The big stand-in: its size, and each tool's peak RSS while it downloads it cold at 50 ms."""
    big = results["meta"].get("big")
    if not big:
        return []
    size = big["torch_bytes"] / 1e6
    out = ["", f"The big stand-in: `{big['requirement']}`, a torch wheel of {size:.0f} MB "
           f"({big['torch_mb']} MiB of random bytes, deflated), and its dependencies. Peak RSS, cold at "
           "50 ms: the tool's own process, and in brackets the largest process of its tree (for jetpip, "
           "that can be the uv it starts):", ""]
    for r in results["rows"]:
        if (r["scenario"], r["cache"], r["latency_ms"]) == ("big", "cold", 50) and "wall_s" in r:
            out.append(f"- {r['tool']}: {r['main_rss_mb']:.0f} MB ({r['peak_rss_mb']:.0f} MB)")
    return out


def https_lines(results: dict[str, Any]) -> list[str]:
    """How each tool spoke to the https mirror: requests by protocol, TLS connections opened."""
    meta = results["meta"].get("https")
    if not meta:
        return []
    if "skipped" in meta:
        return ["", f"The https lock was not run: {meta['skipped']}."]
    out = ["", f"Over https: {meta['certificate']}; ALPN offers {meta['alpn']}; trust by {meta['trust']}; "
           f"the handshake waits {meta['handshake_delay']}."]
    for r in results["rows"]:
        if r.get("scheme") == "https" and "protocols" in r:
            spoken = ", ".join(f"{n} over {p}" for p, n in r["protocols"].items()) or "no requests"
            out.append(f"- {r['tool']}: {spoken}, on {r['connections']} TLS connection(s) (median)")
    return out


def ab_compare(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The working tree's jetpip against REV's, per A/B scenario: medians, ratio, bound."""
    ab = results["meta"].get("ab")
    if not ab:
        return []
    rows = _by_tool(results)
    out = []
    for sc in ab["scenarios"]:
        key = (sc["scenario"], sc["cache"], sc["latency_ms"], sc["scheme"])
        old, new = rows.get((*key, ab["tool"]), {}), rows.get((*key, ab.get("new_tool", "jetpip")), {})
        om, nm, tm = _median(old), _median(new), _median(rows.get((*key, "jetpip"), {}))
        ratio = round(nm / om, 3) if om and nm else None
        bound = sc["bound"]
        out.append({**sc, "old_s": om, "new_s": nm, "new/old": ratio,
                    "within": None if ratio is None or bound is None else ratio <= bound,
                    "tree/old": round(tm / om, 3) if om and tm else None})
    return out


def ab_lines(results: dict[str, Any]) -> list[str]:
    ab = results["meta"].get("ab")
    if not ab:
        return []

    def span(r: dict[str, Any]) -> str:
        w = r.get("wall_s")
        return f"{w['median']:.3f} ({w['min']:.3f}-{w['max']:.3f})" if w else r.get("status", "not run")

    rows = _by_tool(results)
    old, new = ab["tool"], ab.get("new_tool", "jetpip")
    out = ["", f"A/B: `{old}` is jetpip at {ab['rev']} ({ab['sha'][:12]}, \"{ab['subject']}\")"]
    if new != "jetpip":
        out[-1] += (f"; `{new}` is jetpip at {ab['new_rev']} ({ab['new_sha'][:12]}, "
                    f"\"{ab['new_subject']}\"); the bound applies to these two, and the working tree's "
                    "`jetpip` is shown beside them")
    out[-1] += ". All run from the same venv, alternating in this run."
    tree = [" jetpip s |", " jetpip/old |"] if new != "jetpip" else ["", ""]
    out += ["", f"| scenario | {old} s | {new} s |{tree[0]} new/old | bound | verdict |{tree[1]}",
            "| --- | --- | --- |" + (" --- |" if tree[0] else "") + " --- | --- | --- |"
            + (" --- |" if tree[1] else "")]
    for c in ab_compare(results):
        key = (c["scenario"], c["cache"], c["latency_ms"], c["scheme"])
        label = f"{c['scenario']} {c['cache']}, {c['latency_ms']} ms, {c['scheme']}"
        ratio = f"{c['new/old']:.3f}" if c["new/old"] is not None else "-"
        bound = f"<= {c['bound']:.2f}" if c["bound"] else "none"
        verdict = {True: "within", False: "OVER", None: "-"}[c["within"]]
        line = f"| {label} | {span(rows.get((*key, old), {}))} | {span(rows.get((*key, new), {}))} |"
        if new != "jetpip":
            line += f" {span(rows.get((*key, 'jetpip'), {}))} |"
        line += f" {ratio} | {bound} | {verdict} |"
        if new != "jetpip":
            line += f" {c['tree/old']:.3f} |" if c["tree/old"] is not None else " - |"
        out.append(line)
    return out


def render(results: dict[str, Any], md_path: Path) -> str:
    """The new text of ``md_path``: its prose kept, the block between the markers replaced."""
    new = block(results)
    if md_path.exists():
        text = md_path.read_text()
        if BEGIN in text and END in text:
            head, _, rest = text.partition(BEGIN)
            _, _, tail = rest.partition(END)
            return head + new + tail
    return "# Performance\n\n" + new + "\n"


CORPUS_BEGIN = "<!-- corpus-results:begin -->"
CORPUS_END = "<!-- corpus-results:end -->"


def corpus_block(results: dict[str, Any]) -> str:
    """The corpus table: each case's cold lock by jetpip and uv, the median per case, the ultralytics case."""
    meta, got = results["meta"], results["corpus"]
    tools = sorted(got["median_per_case"])

    def secs(v: float | None) -> str:
        return f"{v:.2f}" if v is not None else "failed"

    lines = [
        CORPUS_BEGIN,
        f"Run of {meta['date']} on {meta['machine']}; {meta['repeat']} cold run(s) per tool and case, "
        "median; "
        f"{', '.join(meta['versions'].values())}.",
        "",
        "| case | target | " + " | ".join(f"{t} s" for t in tools) + " | jetpip/uv |",
        "| --- | --- | " + " | ".join("---" for _ in tools) + " | --- |",
    ]
    for key, row in got["cases"].items():
        case, _, target = key.partition("/")
        j, u = row.get("jetpip"), row.get("uv")
        ratio = f"{j / u:.2f}" if j is not None and u else "-"
        cells = " | ".join(secs(row.get(t)) for t in tools)
        lines.append(f"| {case} | {target} | {cells} | {ratio} |")
    medians = ", ".join(f"{t} {secs(got['median_per_case'][t])} s" for t in tools)
    lines += ["", f"Median per case: {medians}."]
    ultra = "; ".join(f"{k.partition('/')[2]}: " + ", ".join(f"{t} {secs(v)} s" for t, v in row.items())
                      for k, row in got["ultralytics"].items())
    lines.append(f"The ultralytics case: {ultra}.")
    for tool, failed in got["failed"].items():
        if failed:
            lines.append(f"{tool} did not lock: {', '.join(failed)}.")
    lines.append(CORPUS_END)
    return "\n".join(lines)


def render_corpus(results: dict[str, Any], md_path: Path) -> str:
    """The new text of ``md_path`` with the corpus block replaced (or appended under its own heading)."""
    new = corpus_block(results)
    text = md_path.read_text() if md_path.exists() else "# Performance\n"
    if CORPUS_BEGIN in text and CORPUS_END in text:
        head, _, rest = text.partition(CORPUS_BEGIN)
        _, _, tail = rest.partition(CORPUS_END)
        return head + new + tail
    return text.rstrip("\n") + "\n\n## The corpus\n\n" + new + "\n"
