from django.urls import include, path

from newsletters import views

app_name = "newsletters"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # The providers' tracking webhooks: /newsletters/anymail/<esp>/tracking/ (newsletters.bounces).
    path("anymail/", include("anymail.urls")),
]

from newsletters import survey_views  # noqa: E402

urlpatterns += [
    path("survey/<str:token>/", survey_views.survey, name="survey"),
]
