"""Data: sources, schema inference, profiling. (being written)"""
from modelloop.data._schema import FEATURE_ROLES, ColumnSchema, Role, Schema, Task

__all__ = ["FEATURE_ROLES", "ColumnSchema", "Role", "Schema", "Task"]
