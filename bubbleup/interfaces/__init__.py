"""The interfaces: every way a person or a program asks bubbleup a question.

- :mod:`~bubbleup.interfaces.cli`: the ``bubbleup`` command;
- :mod:`~bubbleup.interfaces.explore`: ``bubbleup explore``, the local web app, and the
  notebook widget;
- :mod:`~bubbleup.interfaces.mcpserver`: ``bubbleup mcp``, tools for AI assistants;
- :mod:`~bubbleup.interfaces.namespace`: ``df.bubbleup`` on polars frames.

Each parses its own input, builds the options the library takes, calls one library function
and shows the answer with :mod:`bubbleup.outputs`.
"""
