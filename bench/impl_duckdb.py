"""The DuckDB floors: `python -m bench.impl_duckdb --landing L --out O [--script floor.sql]`.

Runs floor_common.sql (session, macros, the table of UTC offsets), then the floor's script:
floor.sql, the platform's semantics hand-written (the expert floor), or floor_minimal.sql, the
least work that yields the same marts on valid input. In-memory database, all cores, an 8 GB
memory limit (spilling to a temp folder beyond it).
"""

import time

T0 = time.perf_counter()  # before the engine's import: time to result counts it

import argparse  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import duckdb  # noqa: E402

from bench.marts import MARTS, write_fingerprint  # noqa: E402
from bench.measure import emit  # noqa: E402

HERE = Path(__file__).parent
COMMON = HERE / "floor_common.sql"
SCRIPTS = ("floor.sql", "floor_minimal.sql")
# The table a statement creates or changes, to name its time in the report.
_TARGET = re.compile(r"^\s*(CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+)?(TABLE|MACRO)|DELETE\s+FROM)"
                     r"\s+(\w+)", re.IGNORECASE)  # fmt: skip


def statement_name(sql: str) -> str:
    """What a statement makes: its table (`fct_flights`, `fct_flights (delete)`), `macros`
    for macro definitions, else `other` (settings, drops).
    """
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    found = _TARGET.match(code)
    if found is None:
        return "other"
    if found.group(2) and found.group(2).upper() == "MACRO":
        return "macros"
    return found.group(3) + (" (delete)" if found.group(1).upper().startswith("DELETE") else "")


def run_script(con: duckdb.DuckDBPyConnection, sql: str, seconds: dict[str, float]) -> None:
    """Run `sql` statement by statement, adding each one's seconds to `seconds` by name."""
    for statement in con.extract_statements(sql):
        began = time.perf_counter()
        con.execute(statement)
        name = statement_name(statement.query)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began


def main() -> None:
    """Run the floor, then write the marts and the fingerprint (not timed)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--script", choices=SCRIPTS, default=SCRIPTS[0])
    parser.add_argument("--memory-gb", type=float, default=8.0)
    args = parser.parse_args()
    began = time.perf_counter()
    con = duckdb.connect()
    # DuckDB's default limit is 80 % of RAM; on a shared machine a floor spills to disk beyond
    # 8 GB (the old floor's peak at 50x) instead.
    con.execute(f"SET memory_limit = '{args.memory_gb}GB'")
    args.out.mkdir(parents=True, exist_ok=True)
    con.execute("SET temp_directory = ?", [str(args.out / "duckdb-spill")])
    con.execute("SET VARIABLE landing = ?", [str(args.landing.resolve())])
    statements: dict[str, float] = {}
    for script in (COMMON, HERE / args.script):
        run_script(con, script.read_text(), statements)
    done = time.perf_counter()
    for name in MARTS:
        con.table(name).pl().write_parquet(args.out / f"{name}.parquet")
    fingerprint = con.table("fact_fingerprint").pl().row(0, named=True)
    write_fingerprint(args.out, fingerprint)
    shutil.rmtree(args.out / "duckdb-spill", ignore_errors=True)
    emit({"run_s": done - began, "total_s": done - T0, "statements_s": statements})


if __name__ == "__main__":
    main()
