"""The analyses of tcp_pattern_analyzer.py, one module per kind of question.

- directions.py    forward/backward column pairs from name tokens
- values.py        numeric values with placeholders and infinities set apart; seeded sampling
- groups.py        the class column, its classes and the benign reference class
- flag_patterns.py TCP flag co-occurrence, KDD connection states, what a flow table says
                   about handshakes (and what it cannot say)
- information.py   mutual information (one stated discretisation) and Cramér's V
- traffic.py       timing, directional asymmetry, rate anomalies, header sizes, init windows
- signatures.py    per-class attack signatures against benign traffic (also used by evaluation)
- importance.py    tree, permutation and mutual-information importance and their agreement
- network.py       the feature correlation network (networkx), communities and centrality
- analysis_plots.py PNG figures and the paths of all analyzer figures
- interactive.py   offline Plotly pages (plotly.js embedded) and the index page

Every function takes a frame plus the Schema (and RuleSet where placeholders matter) and
returns plain JSON-ready dicts, so the script only orchestrates and writes.
"""
