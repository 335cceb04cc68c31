"""What every stage stands on: errors, the table loader and atomic writers, the output layout,
the scripts' command line, progress and stage timing, the house style of plots.

Modules: errors, io, layout, cli (used by the three scripts only), progress, plots. Nothing here
imports from another package of `common`.
"""
