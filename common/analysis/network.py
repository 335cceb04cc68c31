"""The feature correlation network: features joined where |r| exceeds a threshold.

Correlation is Spearman's (rank) correlation, because flow features are heavy-tailed and a few
huge rates would dominate Pearson's r; it is computed pairwise on the rows where both
features hold real values (placeholders and infinities set apart as missing). Communities are
networkx's Louvain communities (seeded, weighted by |r|); centrality is degree centrality and
betweenness centrality. The graph is saved as networkx node-link JSON.
"""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from common.analysis.values import analysis_numeric_columns, clean_numeric_frame
from common.core.errors import UserError
from common.rules import RuleSet
from common.data.schema import Schema

THRESHOLD = 0.7
MIN_PAIR_ROWS = 30


def spearman_matrix(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None) -> pd.DataFrame:
    """Spearman correlations of the numeric features, pairwise-complete; NaN where undefined."""
    columns = analysis_numeric_columns(frame, schema)
    values = clean_numeric_frame(frame, columns, rules)
    values = values.loc[:, values.nunique() > 1]
    return values.corr(method="spearman", min_periods=MIN_PAIR_ROWS)


def correlation_graph(correlations: pd.DataFrame, schema: Schema, threshold: float = THRESHOLD,
                      seed: int = 0) -> nx.Graph:
    """Graph of features (every feature a node) with an edge wherever |r| > threshold.

    Node attributes: category, community, degree_centrality, betweenness. Edge attributes:
    r (signed), weight (|r|).
    """
    if not 0 < threshold < 1:
        raise UserError(f"the correlation threshold must lie between 0 and 1 (got {threshold})")
    graph = nx.Graph()
    for column in correlations.columns:
        graph.add_node(column, category=schema.category_of(column) or "other")
    matrix = correlations.to_numpy()
    names = list(correlations.columns)
    rows, cols = np.where(np.triu(np.abs(np.nan_to_num(matrix, nan=0.0)) > threshold, k=1))
    for i, j in zip(rows, cols):
        graph.add_edge(names[i], names[j], r=round(float(matrix[i, j]), 4), weight=round(abs(float(matrix[i, j])), 4))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed) if graph.number_of_nodes() else []
    # Largest community first, so community 0 is the biggest block of redundant features.
    for index, members in enumerate(sorted(communities, key=lambda c: (-len(c), sorted(c)[0]))):
        for node in members:
            graph.nodes[node]["community"] = index
    degree = nx.degree_centrality(graph) if graph.number_of_nodes() > 1 else {n: 0.0 for n in graph}
    betweenness = nx.betweenness_centrality(graph) if graph.number_of_nodes() > 2 else {n: 0.0 for n in graph}
    for node in graph.nodes:
        graph.nodes[node]["degree_centrality"] = round(float(degree[node]), 4)
        graph.nodes[node]["betweenness"] = round(float(betweenness[node]), 4)
    return graph


def network_summary(graph: nx.Graph, threshold: float) -> dict:
    """What the JSON report says about the graph (the full graph is in its own node-link file)."""
    communities: dict[int, list[str]] = {}
    for node, data in graph.nodes(data=True):
        communities.setdefault(data["community"], []).append(node)
    by_degree = sorted(graph.nodes(data=True), key=lambda item: (-item[1]["degree_centrality"], item[0]))
    return {
        "correlation": "Spearman, pairwise-complete, placeholders and infinities set apart",
        "threshold_abs_r": threshold,
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "isolated_features": sorted(nx.isolates(graph)),
        "communities": [sorted(members) for _, members in sorted(communities.items()) if len(members) > 1],
        "community_method": ("networkx louvain_communities (weight |r|, seeded); "
                             "features without an edge are their own community"),
        "most_central": [
            {"feature": node, "degree_centrality": data["degree_centrality"], "betweenness": data["betweenness"],
             "community": data["community"]}
            for node, data in by_degree[:10] if data["degree_centrality"] > 0
        ],
        "strongest_edges": [
            {"a": a, "b": b, "r": data["r"]}
            for a, b, data in sorted(graph.edges(data=True), key=lambda e: (-e[2]["weight"], e[0], e[1]))[:15]
        ],
    }


def node_link(graph: nx.Graph) -> dict:
    """The graph as networkx node-link data (load with nx.node_link_graph(data, edges="edges"))."""
    return nx.node_link_data(graph, edges="edges")
