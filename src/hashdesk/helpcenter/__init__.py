"""The help center: Markdown articles in categories and sections, one article per topic with
a translation per locale, public pages under ``/hc`` and a folder import/export."""
