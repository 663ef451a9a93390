"""Scores of a registered proxy on the architectures of a feature table, whatever its kind."""
from __future__ import annotations


import pandas as pd

from .probe_table import data_proxy_table
from .registry import ProxyContext, ProxyResult, get_proxy


def proxy_values(ctx: ProxyContext, name: str) -> ProxyResult:
    """The proxy ``name`` on the rows of ``ctx.table``: a table proxy is called on the context, a probe proxy reads
    the (cached) probe scores of those architectures. ``info`` of a probe proxy counts its failures."""
    proxy = get_proxy(name)
    if not proxy.needs_probe:
        return proxy.function(ctx)
    options = ctx.options
    table = data_proxy_table(ctx.benchmark, [name], ctx.builder, ctx.seed, options.get("batch"), options.get("seq"),
                             options.get("n_jobs", 1), retry_failed=options.get("retry_failed", False),
                             ids=ctx.table["arch_id"].astype(str).tolist(), device=options.get("device", "cpu"),
                             settings=options.get("settings"))
    rows = table.set_index("arch_id").loc[ctx.table["arch_id"].astype(str)]
    errors = rows[f"{name}:error"].dropna()
    info = {"failed": int(len(errors)), "seconds_per_arch": float(rows[f"{name}:seconds"].mean()),
            "errors": [None if pd.isna(e) else str(e) for e in rows[f"{name}:error"].astype(object)]}
    if len(errors):
        info["first_error"] = str(errors.iloc[0])
    return ProxyResult(rows[name].to_numpy(float), info)


__all__ = ["proxy_values"]
