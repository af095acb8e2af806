"""``modelloop data list|show|diff|rules``: the versioned snapshots in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, make_settings, out, print_json, table

app = typer.Typer(
    help="Data snapshots: versions, what changed between them, validation rules.",
    no_args_is_help=True,
)


def _strip(ref: str) -> str:
    return ref[len("data:") :] if ref.startswith("data:") else ref


@app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="Only the versions of this snapshot.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List snapshots (latest version of each), or every version of NAME."""
    from modelloop.store import Store

    with Store.from_settings(make_settings(store, home, debug)) as st:
        records = st.list_snapshots(_strip(name) if name else None)
    if name is None:
        latest: dict[str, Any] = {}
        for r in records:
            latest[r.name] = r
        records = list(latest.values())
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        out.print("No snapshots yet. Create one with: modelloop ingest SOURCE --name NAME")
        return
    title = f"Snapshot '{name}'" if name else "Snapshots (latest version of each)"
    out.print(
        table(
            title,
            ["snapshot", "rows", "columns", "content", "created", "source"],
            [
                [
                    r.ref,
                    r.n_rows,
                    r.n_cols,
                    r.hash[:12],
                    f"{r.created_at:%Y-%m-%d %H:%M}" if r.created_at else None,
                    r.source,
                ]
                for r in records
            ],
        )
    )


@app.command("show")
def show_command(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION (default: latest).")],
    head: Annotated[int, typer.Option("--head", help="Print this many first rows.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show one snapshot: source, time, content hash, rows, columns and types, first rows."""
    from modelloop.store import Store, parse_snapshot_ref

    name, version = parse_snapshot_ref(_strip(ref))
    with Store.from_settings(make_settings(store, home, debug)) as st:
        record = st.get_snapshot(name, version)
        frame = st.read_snapshot(record) if head > 0 else None
    if as_json:
        print_json(record.to_dict())
        return
    meta = record.meta
    out.print(f"[bold]{escape(record.ref)}[/]  {record.n_rows} rows × {record.n_cols} columns")
    out.print(f"source:   {escape(record.source)}")
    out.print(f"created:  {record.created_at:%Y-%m-%d %H:%M:%S} UTC" if record.created_at else "")
    out.print(f"content:  {record.hash}")
    out.print(f"file:     {escape(record.artifact_path)} (sha256 {record.sha256[:12]})")
    if meta.get("since_column"):
        mark = (meta.get("watermark") or {}).get("value")
        out.print(f"incremental on {escape(meta['since_column'])}, up to {escape(str(mark))}")
    if meta.get("rules"):
        out.print(f"rules:    {len(meta['rules'].get('columns', {}))} column(s) checked at ingest")
    out.print(table(None, ["column", "type"], [[c["name"], c["dtype"]] for c in record.columns]))
    if frame is not None:
        out.print(escape(frame.head(head).to_string(max_colwidth=30)))


@app.command("diff")
def diff_command(
    old: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME: the version before NEW).")],
    new: Annotated[
        str | None, typer.Argument(help="NAME@VERSION to compare with (default: latest).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Row id column: count changed rows by key.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """What changed between two versions: rows added/removed, schema, distributions."""
    from modelloop.data import diff_frames
    from modelloop.exceptions import SnapshotNotFoundError
    from modelloop.store import Store, parse_snapshot_ref

    old_name, old_version = parse_snapshot_ref(_strip(old))
    new_name, new_version = parse_snapshot_ref(_strip(new)) if new else (old_name, None)
    with Store.from_settings(make_settings(store, home, debug)) as st:
        new_rec = st.get_snapshot(new_name, new_version)
        if old_version is None and old_name == new_name:
            if new_rec.version == 1:
                raise SnapshotNotFoundError(
                    f"Snapshot '{new_name}' has only version 1: nothing to compare it with. "
                    f"Give two references, e.g. {new_name}@1 other@1."
                )
            old_version = new_rec.version - 1
        old_rec = st.get_snapshot(old_name, old_version)
        diff = diff_frames(st.read_snapshot(old_rec), st.read_snapshot(new_rec), key=key)
    if as_json:
        print_json({"old": old_rec.ref, "new": new_rec.ref, **diff.to_dict()})
        return
    out.print(
        f"[bold]{escape(old_rec.ref)} → {escape(new_rec.ref)}[/]: "
        f"{diff.n_rows_old} → {diff.n_rows_new} rows; {diff.rows_added} added, "
        f"{diff.rows_removed} removed"
        + (f", {diff.rows_changed} changed (by {key})" if diff.rows_changed is not None else "")
        + f", {diff.rows_unchanged} unchanged."
    )
    if diff.columns_added:
        out.print(f"columns added: {escape(', '.join(diff.columns_added))}")
    if diff.columns_removed:
        out.print(f"columns removed: {escape(', '.join(diff.columns_removed))}")
    for col, (a, b) in diff.dtype_changes.items():
        out.print(f"type of {escape(col)}: {a} → {b}")
    if not diff.schema_changed:
        out.print("schema: unchanged")
    rows = []
    for c in diff.columns:
        if c["kind"] == "numeric":
            summary = (
                f"mean {c['mean_old']:.4g} → {c['mean_new']:.4g}, std {c['std_old']:.4g} → "
                f"{c['std_new']:.4g}, range [{c['min_old']:.4g}, {c['max_old']:.4g}] → "
                f"[{c['min_new']:.4g}, {c['max_new']:.4g}]"
                if c["mean_old"] is not None and c["mean_new"] is not None
                else "—"
            )
        else:
            summary = (
                f"distinct {c['distinct_old']} → {c['distinct_new']}, top {c['top_old']!r} → "
                f"{c['top_new']!r}, unseen {100 * (c['unseen_share_new'] or 0):.1f}%"
            )
        missing = f"{100 * (c['missing_old'] or 0):.1f}% → {100 * (c['missing_new'] or 0):.1f}%"
        rows.append([c["column"], c["kind"], missing, summary])
    out.print(table("Distributions", ["column", "kind", "missing", "change"], rows))


@app.command("rules")
def rules_command(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION of a snapshot.")],
    suggest: Annotated[
        bool, typer.Option("--suggest", help="Propose rules inferred from the snapshot.")
    ] = False,
    check: Annotated[
        Path | None, typer.Option("--check", help="Check the snapshot against this rules file.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the suggested rules here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Suggest rules from a snapshot (--suggest), check it (--check FILE), or show its rules."""
    from modelloop.data import Rules, load_rules, suggest_rules, validate_frame
    from modelloop.exceptions import ConfigurationError, RuleViolationError
    from modelloop.store import Store, parse_snapshot_ref

    if suggest and check is not None:
        raise ConfigurationError("Give --suggest or --check, not both.")
    name, version = parse_snapshot_ref(_strip(ref))
    with Store.from_settings(make_settings(store, home, debug)) as st:
        record = st.get_snapshot(name, version)
        frame = st.read_snapshot(record) if (suggest or check is not None) else None
    if check is not None and frame is not None:
        report = validate_frame(frame, load_rules(check))
        if as_json:
            print_json(report.to_dict())
        if not report.ok:
            raise RuleViolationError(report.summary(f"snapshot {record.ref}"), report)
        if not as_json:
            out.print(f"snapshot {escape(record.ref)} passes every rule in {escape(check.name)}.")
        return
    if suggest and frame is not None:
        rules: Rules = suggest_rules(frame, source=record.ref)
    elif record.meta.get("rules"):
        rules = load_rules(record.meta["rules"])
    else:
        out.print(
            f"Snapshot {escape(record.ref)} was stored without rules. Propose some with "
            f"'modelloop data rules {escape(record.ref)} --suggest -o rules.yaml'."
        )
        return
    if as_json:
        print_json(rules.to_dict())
    elif output is not None:
        output.write_text(rules.to_yaml(), encoding="utf-8")
        out.print(f"Wrote {len(rules.columns)} column rule sets to {escape(str(output))}.")
    else:
        out.print(escape(rules.to_yaml()), end="")
