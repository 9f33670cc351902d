"""The measuring tools' own arithmetic and rendering, without the measuring."""
