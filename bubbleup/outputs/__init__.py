"""The outputs: how a :class:`~bubbleup.Result` is shown.

- :mod:`~bubbleup.outputs.render`: the terminal table, Markdown and JSON;
- :mod:`~bubbleup.outputs.report`: the self-contained HTML report and the notebook view;
- :mod:`~bubbleup.outputs.charts`: per-attribute histograms and the timeline, as data and SVG;
- :mod:`~bubbleup.outputs.plot`: the same charts with matplotlib.

Outputs read results; they never count (they import the pipeline, never the interfaces).
"""
