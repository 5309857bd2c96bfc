"""Experiments: the same experiment trained with one setting varied, side by side
(``compare_view``), and sweeps over several settings (``sweep_view``); ``menu`` puts
both in the main window."""
