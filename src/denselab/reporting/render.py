"""Execute the report notebook with this interpreter's kernel; convert it to one self-contained HTML file."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import nbformat

# MathJax 3 (TeX input, SVG output, fonts included: one file, vendor/) is inlined, so the maths renders
# offline; without the file, nbconvert's default CDN MathJax 2 is linked instead. Require.js is dropped:
# nothing in the report needs it (nor Mermaid's loader: no diagrams), and no other script, stylesheet or
# medium is fetched. Figures are always written as data: URIs, with their caption as alt text. The style
# sheet lays galleries out two figures per row and fits figures to an A4 page when printed.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% from 'mathjax.html.j2' import mathjax %}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{%- if resources.denselab_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
        processEscapes: true, processEnvironments: true},
  svg: {fontCache: 'global'}
};
</script>
<script>{{ resources.denselab_mathjax }}</script>
{%- else -%}
{{ mathjax(resources.mathjax_url) }}
{%- endif -%}
{%- endblock html_head_js_mathjax -%}
{% block extra_css %}
<style>
.jp-RenderedImage img, .gallery img { max-width: 100%; height: auto; }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }
.gallery figure.pair { width: calc(50% - 8px); margin: 0; }
.gallery figure.pair img { width: 100%; }
.gallery figcaption { font-size: 90%; }
.gallery .clip { width: calc(50% - 8px); }
.gallery .clip audio { width: 100%; height: 32px; }
.raw-html { padding: 0 var(--jp-cell-padding) 0 calc(var(--jp-cell-prompt-width) + var(--jp-cell-padding)); }
.raw-html summary { cursor: pointer; }
@media print {
  @page { size: A4; margin: 10mm 11mm 12mm 11mm; }
  :root, body { --jp-content-font-size1: 9pt !important; --jp-code-font-size: 7.5pt !important;
                --jp-cell-prompt-width: 0px !important; --jp-cell-padding: 0px !important;
                --jp-notebook-padding: 0px !important; }
  body { margin: 0 !important; padding: 0 !important; }
  .jp-Collapser, .jp-InputPrompt, .jp-OutputPrompt { display: none !important; }
  .jp-Notebook, .jp-Cell, .jp-RenderedHTMLCommon { padding-left: 0 !important; padding-right: 0 !important; }
  .jp-RenderedHTMLCommon table { font-size: 8pt; }
  .jp-RenderedHTMLCommon { line-height: 1.35; }
  .jp-RenderedHTMLCommon p, .jp-RenderedHTMLCommon ul, .jp-RenderedHTMLCommon pre,
  .jp-RenderedHTMLCommon blockquote, .jp-RenderedHTMLCommon table { margin-top: 0.3em; margin-bottom: 0.5em; }
  .jp-RenderedHTMLCommon h1, .jp-RenderedHTMLCommon h2, .jp-RenderedHTMLCommon h3 { margin-top: 0.8em; }
  .jp-OutputArea-output, .jp-Cell { margin-top: 0; margin-bottom: 0; }
  .jp-RenderedImage img { max-height: 80mm; width: auto; }
  .jp-RenderedImage img[alt^="1.3 "], .jp-RenderedImage img[alt^="1.4 "] { max-height: 160mm; }  /* grids */
  .jp-RenderedHTMLCommon h1 { font-size: 15pt; }
  .jp-RenderedHTMLCommon h2 { font-size: 12.5pt; }
  .jp-RenderedHTMLCommon h3 { font-size: 11pt; }
  img, figure, tr, h1, h2, h3 { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
}
</style>
{% endblock extra_css %}
{% block rawcell scoped %}
{%- if cell.metadata.get('raw_mimetype', '').lower() == 'text/html' -%}
<div class="jp-RenderedHTMLCommon raw-html">{{ cell.source }}</div>
{%- endif -%}
{% endblock rawcell %}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ ((output | get_metadata('alt', 'image/png')) or 'figure') | escape_html }}">
</div>
{%- endblock data_png %}
"""


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started from *this* Python (so the venv that runs denselab is the one
    that runs the report, whatever kernels Jupyter has registered elsewhere), with `cwd` as working directory.
    A cell that raises leaves its error in the notebook instead of aborting the report."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="denselab-kernel-") as tmp:
        # argv: [sys.executable, -m, ipykernel_launcher, ...]; the kernel imports the denselab that builds the
        # report (first on its path), so the code cells check the code that produced the results
        write_kernel_spec(Path(tmp) / "denselab-python", overrides={"env": {"PYTHONPATH": kernel_path()}})
        specs = KernelSpecManager(kernel_dirs=[tmp], ensure_native_kernel=False)
        # local sockets and connection file in the temp folder: nothing listens on the network, nothing is
        # written to Jupyter's runtime folder
        km = KernelManager(
            kernel_name="denselab-python",
            kernel_spec_manager=specs,
            transport="ipc",
            ip=str(Path(tmp) / "kernel"),
            connection_file=str(Path(tmp) / "kernel.json"),
        )
        client = NotebookClient(
            nb, km=km, timeout=timeout, allow_errors=True, resources={"metadata": {"path": str(cwd)}}
        )
        log = Path(tmp) / "kernel.log"
        with open(log, "wb") as stderr:  # the kernel's chatter goes here; shown only if it fails
            try:
                client.execute(stderr=stderr)
            except Exception as e:
                tail = log.read_text(errors="replace")[-2000:].strip()
                raise RuntimeError(
                    f"the report notebook could not be executed ({type(e).__name__}: {e})"
                    + (f"; kernel said: {tail}" if tail else "")
                ) from e
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def kernel_path() -> str:
    """PYTHONPATH for the kernel: the folder holding this denselab package, then the caller's PYTHONPATH (made
    absolute: the kernel runs in the results folder)."""
    here = str(Path(__file__).resolve().parents[2])  # src/ (or site-packages), which holds denselab/
    rest = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([here, *rest]))


def cell_errors(nb: nbformat.NotebookNode) -> list[str]:
    """'ename: evalue' of every error output in the executed notebook."""
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def to_html(nb: nbformat.NotebookNode) -> str:
    """The executed notebook as one HTML page; images and audio are already data: URIs in the outputs."""
    import jinja2
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"hide-input"}
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        embed_images=True,
        extra_loaders=[jinja2.DictLoader({"denselab.html.j2": _TEMPLATE})],
    )
    exporter.template_file = "denselab.html.j2"
    resources = {"metadata": {"name": "denselab report"}, "denselab_mathjax": inline_mathjax()}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


MATHJAX_FILE = Path(__file__).with_name("vendor") / "mathjax-tex-svg.js"


def inline_mathjax() -> str:
    """The vendored MathJax 3 bundle, safe to place inside a <script> element ("" when it is absent)."""
    try:
        return MATHJAX_FILE.read_text(encoding="utf-8").replace("</script", "<\\/script")
    except OSError:
        return ""


# src/href of media-bearing tags; a page that mails well has only data: URIs (and #anchors) there.
_MEDIA = re.compile(
    r"<(img|audio|source|video|track|embed|iframe|link|script|object)\b[^>]*?"
    r"\b(src|href|data)\s*=\s*[\"']([^\"']*)[\"']",
    re.IGNORECASE,
)


def external_refs(html: str, allow: tuple[str, ...] = ()) -> list[str]:
    """Every src/href of an img, audio, source, video, link, script… tag that is not a data: URI or an anchor,
    except those starting with one of `allow`."""
    refs = []
    for tag, _, url in _MEDIA.findall(html):
        if url.startswith(("data:", "#")) or (allow and url.startswith(allow)):
            continue
        refs.append(f"<{tag}> {url}")
    return refs


MATHJAX_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"
