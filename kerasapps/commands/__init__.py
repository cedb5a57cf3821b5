"""The commands: each module parses its arguments, calls one library function and prints.

`kerasapps COMMAND` dispatches here (`kerasapps/__main__.py` holds the table);
`cli` holds what every command shares. A command imports the library only after
its arguments are parsed (`cli.parse`), so `--help` never waits for TensorFlow.
"""
