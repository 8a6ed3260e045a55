"""The context block a chatbot pastes into its prompt: numbered passages, then the facts, each
citing the passages (or document offsets) it comes from."""

from __future__ import annotations

from kg.retrieval.types import RetrievalResult


def format_context(result: RetrievalResult) -> str:
    lines = []
    for p in result.passages:
        title = f"{p.title} " if p.title else ""
        lines.append(f"[{p.n}] {title}(document {p.doc_id}, characters {p.start}-{p.end})")
        lines.append(p.text.strip())
        lines.append("")
    if result.facts:
        lines.append("Facts:")
        for f in result.facts:
            cites = ", ".join(f"[{c.passage}]" if c.passage else f"document {c.doc_id} {c.start}-{c.end}"
                              for c in f.citations)
            lines.append(f"- {f.head} {f.relation} {f.tail} (confidence {f.confidence:.2f}; {cites})")
    return "\n".join(lines).rstrip() + "\n" if lines else ""
