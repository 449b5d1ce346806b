"""The drop-in feedback widget: the ES module, its versioned URL, and the demo page."""
