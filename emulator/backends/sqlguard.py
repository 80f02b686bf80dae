"""What Athena SQL may ask of DuckDB: the catalog's tables and Trino's functions, nothing of the host.

DuckDB runs far more than Athena does: table functions that read any file or URL (`read_text`,
`read_csv`, `glob`, ...), a string used as a table (`FROM '/etc/passwd'`), statements that
reach the host (COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, ...) and scalars that read its
settings or state (`current_setting`, `getvariable`, ...). `check` closes that class on the
parsed query, before any of it reaches DuckDB:

- statements: only SELECT (WITH, set operations, VALUES), CREATE TABLE AS SELECT and INSERT INTO;
- FROM/JOIN sources: only table names (which the engine binds to catalog views), subqueries,
  VALUES and UNNEST, so no table function, whatever its name;
- functions sqlglot does not know as Trino's (it keeps them by name) must be DuckDB scalar,
  aggregate or window functions outside DuckDB's system families.

The engine also confines DuckDB itself (`enable_external_access`), so this is the first of two walls.
"""

from __future__ import annotations

from functools import cache

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import TokenError

# Trino's statement keywords: a query starting with another word is a syntax error in Athena.
_TRINO_STATEMENTS = ("ALTER", "ANALYZE", "CALL", "COMMENT", "COMMIT", "CREATE", "DEALLOCATE", "DELETE", "DENY",
                     "DESC", "DESCRIBE", "DROP", "EXECUTE", "EXPLAIN", "GRANT", "INSERT", "MERGE", "MSCK", "PREPARE",
                     "REFRESH", "RESET", "REVOKE", "ROLLBACK", "SELECT", "SET", "SHOW", "START", "TABLE", "TRUNCATE",
                     "UNLOAD", "UPDATE", "USE", "VALUES", "WITH")
# DuckDB's families of functions about the database, the session or the host, not the data.
_SYSTEM_PREFIXES = ("duckdb_", "pragma_", "read_", "parquet_", "sniff_", "pg_", "has_", "inet_", "txid_", "current_",
                    "json_execute", "json_serialize", "json_deserialize", "enable_", "disable_", "parse_duckdb",
                    "write_", "icu_")
_SYSTEM_NAMES = frozenset({"getenv", "getvariable", "query", "query_table", "glob", "sleep_ms", "col_description",
                           "obj_description", "shobj_description", "nextval", "currval", "setval", "user_agent",
                           "extension_versions", "get_block_size", "in_search_path", "stats", "platform",
                           "session_user", "user", "which_secret", "checkpoint", "force_checkpoint"})
_SOURCES = (exp.Table, exp.Subquery, exp.Values, exp.Unnest, exp.Lateral)


class Rejected(Exception):
    """The query asks for something Athena does not have; `name` is Trino's error name."""

    def __init__(self, name: str, message: str, node: exp.Expression | None = None,
                 where: tuple[int, int] | None = None) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.node = node
        self.where = where


def check(tree: exp.Expression, query: str) -> None:
    """Raise Rejected unless the statement is one the engine runs over catalog tables only."""
    _statement(tree, query)
    for node in tree.walk():
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            raise _not_registered(node.this)
        if isinstance(node, (exp.From, exp.Join)) and not isinstance(node.this, _SOURCES):
            raise _not_registered(node.this)
        if isinstance(node, exp.Lateral) and not isinstance(node.this, (exp.Subquery, exp.Unnest, exp.Explode)):
            raise _not_registered(node.this)
        if isinstance(node, exp.Func) and not _allowed_function(node):
            raise _not_registered(node)


def refers_to_cte(table: exp.Table) -> bool:
    """Whether an unqualified table name means a WITH query in scope at that point (Trino's scoping)."""
    if table.db or not isinstance(table.this, exp.Identifier):
        return False
    name = table.name.lower()
    child: exp.Expression = table
    parent = table.parent
    while parent is not None:
        if isinstance(parent, exp.With) and isinstance(child, exp.CTE):
            ctes = parent.expressions
            visible = ctes[:ctes.index(child) + (1 if parent.args.get("recursive") else 0)]
            if any(cte.alias_or_name.lower() == name for cte in visible):
                return True
        else:
            with_ = parent.args.get("with_") or parent.args.get("with")
            if isinstance(with_, exp.With) and with_ is not child and any(
                    cte.alias_or_name.lower() == name for cte in with_.expressions):
                return True
        child, parent = parent, parent.parent
    return False


def _statement(tree: exp.Expression, query: str) -> None:
    if isinstance(tree, (exp.Query, exp.Values)):
        return
    if isinstance(tree, exp.Create) and tree.kind == "TABLE" and isinstance(tree.expression, exp.Query):
        return
    if (isinstance(tree, exp.Insert) and not tree.args.get("overwrite") and not tree.args.get("alternative")
            and isinstance(tree.this, (exp.Table, exp.Schema))
            and isinstance(tree.expression, (exp.Query, exp.Values))):
        return
    words = _first_words(query)
    first = words[0][0] if words else ""
    if first.upper() in _TRINO_STATEMENTS:
        shown = " ".join(w for w, _ in words).upper()
        raise Rejected("NOT_SUPPORTED", f"sfn-local runs SELECT, CREATE TABLE AS SELECT and INSERT INTO; not {shown}")
    expecting = ", ".join(f"'{w}'" for w in _TRINO_STATEMENTS if w not in ("SELECT", "TABLE", "VALUES", "WITH"))
    raise Rejected("SYNTAX_ERROR", f"mismatched input '{first}'. Expecting: {expecting}, <query>",
                   where=words[0][1] if words else None)


def _first_words(query: str) -> list[tuple[str, tuple[int, int]]]:
    """The statement's first two tokens (comments skipped) with their line and column."""
    try:
        tokens = sqlglot.tokenize(query, read="trino")[:2]
    except TokenError:
        return []
    return [(t.text, (t.line, t.col - len(t.text) + 1)) for t in tokens]


def _not_registered(node: exp.Expression) -> Rejected:
    """FUNCTION_NOT_FOUND for what stands in a table's place or is called: Trino's words."""
    if isinstance(node, exp.Anonymous) and node.name.upper() == "TABLE" and node.expressions:
        node = node.expressions[0]  # TABLE(fn(...)): name the function inside
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        name = node.name
    elif isinstance(node, exp.Func):
        name = node.sql_name()
    else:  # an operator parsed in a table's place, e.g. glob(a, b) as `a GLOB b`
        name = node.key
    return Rejected("FUNCTION_NOT_FOUND", f"Function '{name.lower()}' not registered", node)


def _allowed_function(node: exp.Func) -> bool:
    data, table_only = _duckdb_functions()
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        name = node.name.lower()
        return name in data and name not in _SYSTEM_NAMES and not name.startswith(_SYSTEM_PREFIXES)
    # A function sqlglot knows as Trino's is fine unless it names one of DuckDB's readers (read_csv, ...);
    # UNNEST is a table function to DuckDB and Trino's own syntax.
    return isinstance(node, (exp.Unnest, exp.Explode)) or not any(n.lower() in table_only
                                                                   for n in type(node).sql_names())


@cache
def _duckdb_functions() -> tuple[frozenset[str], frozenset[str]]:
    """(names of DuckDB's scalar/aggregate/window functions and macros, names only a table function has)."""
    with duckdb.connect() as con:
        rows = con.sql("SELECT DISTINCT lower(function_name), function_type IN ('table', 'table_macro', 'pragma') "
                       "FROM duckdb_functions()").fetchall()
    data = frozenset(name for name, is_table in rows if not is_table)
    return data, frozenset(name for name, is_table in rows if is_table) - data
