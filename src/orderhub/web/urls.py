from django.urls import path

from .views import board, config, home, intake, orders

app_name = "web"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", home.LoginView.as_view(), name="login"),
    path("logout/", home.LogoutView.as_view(), name="logout"),
    path("board/<str:code>/", board.board_page, name="board"),
    path("board/<str:code>/columns", board.board_columns, name="board_columns"),
    path("orders/", orders.order_list, name="order_list"),
    path("orders/export.xlsx", orders.order_export, name="order_export"),
    path("orders/new/", orders.order_new, name="order_new"),
    path("orders/<str:number>/", orders.order_detail, name="order_detail"),
    path("orders/<str:number>/move", orders.order_move, name="order_move"),
    path("orders/<str:number>/override", orders.order_override, name="order_override"),
    path("orders/<str:number>/hold", orders.order_hold, name="order_hold"),
    path("orders/<str:number>/resume", orders.order_resume, name="order_resume"),
    path("orders/<str:number>/cancel", orders.order_cancel, name="order_cancel"),
    path("orders/<str:number>/attach", orders.order_attach, name="order_attach"),
    path("orders/<str:number>/files/<int:pk>", orders.attachment_file, name="attachment"),
    path("intake/", intake.inbox, name="intake_inbox"),
    path("intake/upload/", intake.upload, name="intake_upload"),
    path("intake/jobs/<int:pk>/", intake.job, name="intake_job"),
    path("intake/drafts/", intake.drafts, name="intake_drafts"),
    path("intake/drafts/<int:pk>/", intake.draft, name="intake_draft"),
    path("intake/<int:pk>/", intake.message, name="intake_message"),
    path("intake/<int:pk>/raw", intake.message_raw, name="intake_raw"),
    path("intake/<int:pk>/preview", intake.message_preview, name="intake_preview"),
    path("intake/<int:pk>/replay", intake.message_replay, name="intake_replay"),
    path("settings/customers/<str:code>/quick-link", intake.quick_link, name="quick_link"),
    path("q/<str:token>", intake.quick_order, name="quick_order"),
    path("settings/", config.config_home, name="config_home"),
    path("settings/workflows/<str:code>/", config.workflow_edit, name="config_workflow"),
    path("settings/calendar/", config.calendar, name="config_calendar"),
    path("settings/customers/", config.customers, name="config_customers"),
    path("settings/customers/<str:code>/", config.customer_edit, name="config_customer"),
    path("settings/products/", config.products, name="config_products"),
    path("settings/products/<str:sku>/", config.product_edit, name="config_product"),
    path("settings/stock/", config.stock, name="config_stock"),
    path("settings/users/", config.users, name="config_users"),
]
