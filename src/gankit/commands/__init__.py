"""What each `gankit` command does with its options: the options it adds to its configs'
(dataclasses whose fields become its flags), and a function that calls the Python API and
prints the result. gankit.cli turns them into the command line."""
