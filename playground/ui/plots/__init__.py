"""Live plots, one class each: items are created once and only their data changes."""

from playground.ui.plots.boundary_plot import BoundaryPlot
from playground.ui.plots.gradient_plot import GradientPlot
from playground.ui.plots.loss_plot import LossPlot
from playground.ui.plots.unit_health_plot import UnitHealthPlot

__all__ = ["BoundaryPlot", "GradientPlot", "LossPlot", "UnitHealthPlot"]
