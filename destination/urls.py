from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from bookings.webhooks import stripe_webhook
from content import views as content_views
from content.sitemaps import LocalizedSitemap
from destination import views
from partners.api import api

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("cms/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("health/", views.health, name="health"),
    path("sitemap.xml", sitemap, {"sitemaps": {"pages": LocalizedSitemap}}, name="sitemap"),
    path("api/v1/", api.urls),
    path("gdpr/", include("destination.gdpr_urls")),
    path("stripe/webhook/", stripe_webhook, name="stripe_webhook"),
    path("newsletters/", include("newsletters.urls")),
    path("outbox/", include("newsletters.outbox_urls")),
    # The open pixel and the click redirector, at the root (t/o/..., t/c/...), no language.
    path("", include("newsletters.tracking_urls")),
]

urlpatterns += i18n_patterns(
    path("search/", content_views.search, name="search"),
    path("book/", include("bookings.urls")),
    path("portal/bookings/", include("bookings.desk_urls")),
    path("portal/offers/", include("bookings.catalogue_urls")),
    path("portal/", include("portal.urls")),
    # The newsletter signup moved to newsletters; its paths and names stay "content:newsletter_*"
    # (confirmation links in inboxes, the content templates' {% url %}).
    path("", include(("newsletters.signup_urls", "content"))),
    path("", include(wagtail_urls)),
    prefix_default_language=True,
)

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
