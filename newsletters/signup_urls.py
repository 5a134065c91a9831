"""The newsletter signup URLs, mounted by ``destination/urls.py`` under the language prefix in
the namespace ``content``: the paths and names they had in ``content/urls.py`` before the move
(``/<lang>/newsletter/confirm/<token>/`` is in inboxes)."""

from django.urls import path

from newsletters import signup_views

urlpatterns = [
    path("newsletter/", signup_views.newsletter_signup, name="newsletter_signup"),
    path("newsletter/thanks/", signup_views.newsletter_signup_done, name="newsletter_signup_done"),
    path(
        "newsletter/confirm/<str:token>/",
        signup_views.newsletter_confirm,
        name="newsletter_confirm",
    ),
]
