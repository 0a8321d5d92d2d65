"""Sphinx configuration of the course website (built by ``book/build.py``; see its docstring).

Everything the pages load is served from ``_static``: notebooks are rendered from their stored
outputs (never executed), MathJax comes from the bundled ``sphinx-mathjax-offline`` copy, and
no widget, font, analytics or launch-button script points at the network.
"""

project = "ppl-generative"
author = "ppl-generative contributors"
copyright = "ppl-generative contributors"

extensions = ["myst_nb", "sphinx-mathjax-offline"]

root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]

# Notebooks: stored outputs only.
nb_execution_mode = "off"
nb_merge_streams = True
# No require.js / @jupyter-widgets/html-manager from a CDN; widget outputs (progress bars)
# are dropped from the staged copies by build.py (a static page cannot show them).
nb_ipywidgets_js = {}

myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_heading_anchors = 3

# MathJax 3 bundled by sphinx-mathjax-offline, copied to _static/mathjax after the build.
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "sphinx_book_theme"
html_title = "ppl-generative"
html_static_path: list[str] = []
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "launch_buttons": {},
    "search_bar_text": "Search the course...",
    "analytics": {},
}
