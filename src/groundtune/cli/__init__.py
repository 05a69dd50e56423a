"""The `groundtune` command: a thin table of commands over library functions (no logic here)."""
