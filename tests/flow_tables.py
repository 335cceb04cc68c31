"""Small hand-made flow tables in the schemas users bring (CICFlowMeter, CSE-CIC-IDS2018, NSL-KDD)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# Epochs that make every class of a few-hundred-row table in a test run. TVAE needs a couple of
# thousand optimiser steps before it generates the rarer pattern|class categories at all (20
# epochs made 4 of 26, 1,200 steps none of a 25% class), and generation refuses to skip a class:
# its "auto" default (3,000 steps, ~15 s on these tables) is the quick setting. CTGAN's
# conditional generator makes every class after a few epochs.
QUICK_EPOCHS = {"ctgan": 20, "tvae": "auto"}
TVAE_QUICK = ("--models", "tvae")   # the config's default epochs: "auto"


def make_cicflowmeter_csv(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """A CIC-IDS2017-style CSV: leading spaces in names, a repeated 'Fwd Header Length',
    'Infinity' and empty cells in the byte/packet rates, -1 initial windows, negative IAT
    minima, identifiers (Flow ID, addresses, ports, Timestamp) and a ' Label' column."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["BENIGN", "DDoS", "PortScan"], size=rows, p=[0.6, 0.25, 0.15])
    fwd_packets = rng.integers(1, 40, rows)
    bwd_packets = np.where(labels == "PortScan", rng.integers(0, 2, rows), rng.integers(0, 40, rows))
    duration = np.where(rng.random(rows) < 0.05, 0, rng.integers(1, 5_000_000, rows))
    syn = (labels != "BENIGN").astype(int) | (rng.random(rows) < 0.1)
    with np.errstate(divide="ignore"):
        bytes_rate = np.where(duration > 0, rng.integers(40, 9000, rows) / (duration / 1e6), np.inf)
        packets_rate = np.where(duration > 0, (fwd_packets + bwd_packets) / (duration / 1e6), np.inf)
    fwd_header = fwd_packets * rng.choice([20, 32, 40], rows)
    src = [f"192.168.{rng.integers(0, 255)}.{rng.integers(1, 255)}" for _ in range(rows)]
    dst = [f"10.0.{rng.integers(0, 255)}.{rng.integers(1, 255)}" for _ in range(rows)]
    sport, dport = rng.integers(1024, 65535, rows), rng.choice([80, 443, 22, 8080], rows)
    frame = pd.DataFrame(
        {
            "Flow ID": [f"{s}-{d}-{a}-{b}-6" for s, d, a, b in zip(src, dst, sport, dport)],
            " Source IP": src,
            " Source Port": sport,
            " Destination IP": dst,
            " Destination Port": dport,
            " Timestamp": pd.date_range("2017-07-07 09:00", periods=rows, freq="s").strftime("%d/%m/%Y %H:%M:%S"),
            " Flow Duration": duration,
            " Total Fwd Packets": fwd_packets,
            " Total Backward Packets": bwd_packets,
            "Flow Bytes/s": bytes_rate,
            " Flow Packets/s": packets_rate,
            " Flow IAT Mean": duration / np.maximum(fwd_packets + bwd_packets - 1, 1),
            " Flow IAT Min": rng.integers(-3, 1000, rows),
            " Fwd Header Length": fwd_header,
            " Bwd Header Length": bwd_packets * 20,
            " Fwd Header Length.dup": fwd_header,
            "Fwd PSH Flags": (rng.random(rows) < 0.2).astype(int),
            " SYN Flag Count": syn.astype(int),
            " RST Flag Count": (rng.random(rows) < 0.05).astype(int),
            " ACK Flag Count": (rng.random(rows) < 0.5).astype(int),
            "Init_Win_bytes_forward": np.where(rng.random(rows) < 0.3, -1, rng.choice([8192, 29200, 65535], rows)),
            " Init_Win_bytes_backward": np.where(bwd_packets == 0, -1, rng.choice([0, 235, 65535], rows)),
            " Label": labels,
        }
    )
    text = frame.to_csv(index=False).replace("inf", "Infinity")
    # The published files repeat the header name itself; pandas would have mangled it.
    text = text.replace(" Fwd Header Length.dup", " Fwd Header Length", 1)
    lines = text.splitlines()
    for i in range(1, len(lines), 37):  # empty cells where the exporter wrote nothing
        cells = lines[i].split(",")
        cells[9] = ""
        lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_kdd_csv(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """An NSL-KDD-style CSV with CRLF line ends: categorical protocol_type, service and TCP
    `flag` (connection state), counts, rates, a label and a trailing difficulty column."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["normal", "neptune", "smurf", "portsweep"], size=rows, p=[0.55, 0.25, 0.1, 0.1])
    flag = np.where(labels == "neptune", rng.choice(["S0", "REJ"], rows),
                    np.where(labels == "portsweep", rng.choice(["RSTO", "RSTR", "SH"], rows),
                             rng.choice(["SF", "SF", "SF", "S1", "S2", "S3", "OTH"], rows)))
    frame = pd.DataFrame(
        {
            "duration": rng.integers(0, 100, rows),
            "protocol_type": np.where(labels == "smurf", "icmp", rng.choice(["tcp", "udp"], rows, p=[0.9, 0.1])),
            "service": rng.choice(["http", "private", "smtp", "ftp_data", "ecr_i"], rows),
            "flag": flag,
            "src_bytes": rng.integers(0, 50_000, rows),
            "dst_bytes": rng.integers(0, 80_000, rows),
            "count": rng.integers(1, 511, rows),
            "srv_count": rng.integers(1, 511, rows),
            "serror_rate": rng.random(rows).round(2),
            "rerror_rate": rng.random(rows).round(2),
            "same_srv_rate": rng.random(rows).round(2),
            "label": labels,
            "difficulty": rng.integers(1, 22, rows),
        }
    )
    path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8"))
    return path


def make_cse_cic_ids2018_csv(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """A CSE-CIC-IDS2018-style CSV: short names (`Dst Port`, `Tot Fwd Pkts`, `SYN Flag Cnt`,
    `Fwd PSH Flags`, `Init Fwd Win Byts`), a `Timestamp` and a `Label` column."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["Benign", "DDoS attacks-LOIC-HTTP", "FTP-BruteForce"], size=rows, p=[0.6, 0.25, 0.15])
    fwd = rng.integers(1, 30, rows)
    bwd = np.where(labels == "FTP-BruteForce", rng.integers(0, 3, rows), rng.integers(0, 30, rows))
    duration = rng.integers(1, 3_000_000, rows)
    frame = pd.DataFrame(
        {
            "Dst Port": rng.choice([80, 21, 443], rows),
            "Protocol": 6,
            "Timestamp": pd.date_range("2018-02-14 08:00", periods=rows, freq="7s").strftime("%d/%m/%Y %H:%M:%S"),
            "Flow Duration": duration,
            "Tot Fwd Pkts": fwd,
            "Tot Bwd Pkts": bwd,
            "TotLen Fwd Pkts": fwd * rng.integers(0, 1400, rows),
            "Flow Byts/s": rng.integers(0, 90_000, rows) / (duration / 1e6),
            "Flow Pkts/s": (fwd + bwd) / (duration / 1e6),
            "Fwd IAT Mean": duration / np.maximum(fwd - 1, 1),
            "Fwd PSH Flags": (rng.random(rows) < 0.3).astype(int),
            "SYN Flag Cnt": (labels != "Benign").astype(int),
            "RST Flag Cnt": (rng.random(rows) < 0.05).astype(int),
            "ACK Flag Cnt": (rng.random(rows) < 0.6).astype(int),
            "Init Fwd Win Byts": np.where(rng.random(rows) < 0.2, -1, rng.choice([8192, 26883, 65535], rows)),
            "Init Bwd Win Byts": np.where(bwd == 0, -1, rng.choice([0, 211, 26883], rows)),
            "Fwd Header Len": fwd * 20,
            "Label": labels,
        }
    )
    frame.to_csv(path, index=False)
    return path
