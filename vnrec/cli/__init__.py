"""The `vnrec` command line: parse, call one library service, render."""
