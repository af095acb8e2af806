"""``modelloop models list|show|alias``."""

from __future__ import annotations

from typing import Annotated

import typer

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, make_settings, out, print_json, table

app = typer.Typer(
    help="Registered models: list them, show a version, move aliases.", no_args_is_help=True
)


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List registered models with their latest version and aliases."""
    from modelloop.store import Store

    with Store.from_settings(make_settings(store, home, debug)) as st:
        summaries = st.list_models()
    if as_json:
        print_json([s.__dict__ for s in summaries])
        return
    if not summaries:
        out.print("No registered models yet. Train one: modelloop train DATA --target COLUMN")
        return
    out.print(
        table(
            "Registered models",
            ["name", "task", "latest", "versions", "aliases", "updated"],
            [
                [
                    s.name,
                    s.task,
                    s.latest_version,
                    s.n_versions,
                    ", ".join(f"{a}→{v}" for a, v in sorted(s.aliases.items())) or "—",
                    s.updated_at.strftime("%Y-%m-%d %H:%M") if s.updated_at else "—",
                ]
                for s in summaries
            ],
        )
    )


@app.command("show")
def show_command(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show one model version: metrics, input schema, lineage, and its other versions."""
    from modelloop.store import Store

    with Store.from_settings(make_settings(store, home, debug)) as st:
        record = st.resolve(ref)
        versions = st.list_versions(record.name)
        exports = st.list_exports(record.name, record.version)
    if as_json:
        print_json({**record.__dict__, "exports": [e.__dict__ for e in exports]})
        return
    out.print(
        f"[bold]{record.name}[/] version {record.version}  task: {record.task}  aliases: {', '.join(record.aliases) or '—'}"
    )
    out.print(f"{record.description}")
    out.print(
        f"run: {record.run_id}  created: {record.created_at:%Y-%m-%d %H:%M:%S}  artifact sha256: {record.sha256[:16]}…  ({record.size_bytes} bytes)"
    )
    metrics = record.metrics or {}
    rows = [
        [f"{split} {k}", v] for split, values in metrics.items() for k, v in (values or {}).items()
    ]
    if rows:
        out.print(table("Metrics", ["metric", "value"], rows))
    cols = (record.schema or {}).get("columns", [])
    target = (record.schema or {}).get("target")
    out.print(
        table(
            "Input schema",
            ["column", "role", "used", "note"],
            [
                [
                    c["name"],
                    c["role"],
                    "target"
                    if c["name"] == target
                    else ("yes" if c["role"] not in ("identifier", "constant") else "no"),
                    c.get("note", ""),
                ]
                for c in cols
            ],
        )
    )
    if exports:
        out.print(
            table(
                "Exports",
                ["format", "when", "sha256", "modelloop", "path"],
                [
                    [
                        e.format,
                        e.created_at.strftime("%Y-%m-%d %H:%M"),
                        e.sha256[:16] + "…",
                        e.modelloop_version,
                        e.path,
                    ]
                    for e in exports
                ],
            )
        )
    out.print(
        f"Versions of {record.name}: "
        + ", ".join(
            str(v.version) + (f" ({', '.join(v.aliases)})" if v.aliases else "") for v in versions
        )
    )


@app.command("alias")
def alias_command(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. production or staging.")],
    version: Annotated[int | None, typer.Argument(help="Version the alias points to.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias instead.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Point ALIAS of model NAME at VERSION (or remove it with --delete)."""
    from modelloop.exceptions import ConfigurationError
    from modelloop.store import Store

    with Store.from_settings(make_settings(store, home, debug)) as st:
        if delete:
            st.delete_alias(name, alias)
            out.print(f"Removed alias '{alias}' of {name}.")
            return
        if version is None:
            raise ConfigurationError(
                f"Give the version '{alias}' should point to: modelloop models alias {name} {alias} VERSION."
            )
        st.set_alias(name, alias, version)
        out.print(f"{name}@{alias} -> version {version}.")
