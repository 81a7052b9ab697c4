"""The auditors' fuzz suite: the whole protocol (keel.fuzz.system), one stateful machine over
every user and keeper action (keel.fuzz.machine) and its runner (keel.fuzz.runner, `keel fuzz`)."""
