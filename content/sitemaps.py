"""A sitemap of every language tree: Wagtail's own lists only the site root's tree, which with one
tree per locale would leave the French pages out. Aliases are left out (see ``items``)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from wagtail.contrib.sitemaps import Sitemap
from wagtail.models import Page


class LocalizedSitemap(Sitemap):
    def items(self) -> QuerySet[Page]:
        root = self.get_wagtail_site().root_page
        roots = Page.objects.filter(translation_key=root.translation_key).only("path")
        in_a_tree = Q()
        for tree_root in roots:
            in_a_tree |= Q(path__startswith=tree_root.path)
        return (
            Page.objects.filter(in_a_tree)
            .live()
            .public()
            # An alias repeats its original's text (an untranslated page in the French tree):
            # its canonical is the original, so only the original is listed.
            .filter(alias_of__isnull=True)
            .order_by("path")
            .defer_streamfields()
            .specific()
        )
