"""Views that look inside the network: the live graph of units and weights, the
activation explorer and the diagnostics. Each is drawn only while it is shown."""

from playground.ui.views.activation_explorer import ActivationExplorer
from playground.ui.views.diagnostics_view import DiagnosticsView
from playground.ui.views.inside_view import InsideView
from playground.ui.views.network_view import NetworkView

__all__ = ["ActivationExplorer", "DiagnosticsView", "InsideView", "NetworkView"]
