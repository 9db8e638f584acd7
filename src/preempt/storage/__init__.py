"""The SQL database: SQLAlchemy Core tables, bulk queries and Alembic migrations.

Rows never leave this package: callers get domain types or plain tuples/arrays.
"""
