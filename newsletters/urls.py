from django.urls import path

from newsletters import views

app_name = "newsletters"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

from newsletters import survey_views  # noqa: E402

urlpatterns += [
    path("survey/<str:token>/", survey_views.survey, name="survey"),
]
