from synthc.cli import entry

entry()
