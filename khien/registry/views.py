from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def dashboard(request):
    return HttpResponse("registry")


organization_list = system_list = isac_list = import_page = dashboard
