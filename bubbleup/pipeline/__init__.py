"""The pipeline: from events and a selection to a ranked, honest answer.

In the order a call of :func:`bubbleup.analyze` runs them:

- :mod:`~bubbleup.pipeline.load`: read a source (files through :mod:`bubbleup.io`, or a
  frame) into a lazy frame;
- :mod:`~bubbleup.pipeline.gate` and :mod:`~bubbleup.pipeline.split`: check and compile the
  predicates into selection, baseline and scope;
- :mod:`~bubbleup.pipeline.roles` and :mod:`~bubbleup.pipeline.profile`: which columns are
  context and which are outcomes, and how each is counted (values, ranges, time bins);
- :mod:`~bubbleup.pipeline.count`: the counts on both sides, on an engine of
  :mod:`bubbleup.engines`;
- :mod:`~bubbleup.pipeline.score`, :mod:`~bubbleup.pipeline.ranges`,
  :mod:`~bubbleup.pipeline.combine` and :mod:`~bubbleup.pipeline.explain`: the statistics,
  conjunctions, restatements and "explained by";
- :mod:`~bubbleup.pipeline.outcomes`, :mod:`~bubbleup.pipeline.timewindow`: what the
  selection's outcomes and time look like;
- :mod:`~bubbleup.pipeline.result`: the :class:`~bubbleup.Result` every interface shows.

Nothing here imports :mod:`bubbleup.outputs` or :mod:`bubbleup.interfaces` (checked by
import-linter in CI), except :class:`~bubbleup.Result`'s notebook conveniences, which load
an output when called.
"""
