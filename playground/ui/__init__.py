"""Everything Qt: the application, the main window, panels, plots and the worker thread.

Only this package imports PySide6 and pyqtgraph (see DESIGN.md, "the import rule"). Importing
it is cheap: the window's modules load when ``run_app`` needs them.
"""
