"""SQL identifiers for DuckDB, quoted once here for every module that builds SQL."""


def quote(identifier: str) -> str:
    """A DuckDB identifier, quoted (embedded quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def table_name(schema: str, table: str) -> str:
    """`"schema"."table"`."""
    return f"{quote(schema)}.{quote(table)}"
