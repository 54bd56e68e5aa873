"""The ``skysift`` command line: one module per subcommand."""
