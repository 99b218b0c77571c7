import { createApp } from "vue";
import "element-plus/dist/index.css";
import "./styles.css";
import App from "./App.vue";
import { applyDocumentLanguage, i18n } from "./i18n";
import { router } from "./router";

applyDocumentLanguage(i18n.global.locale.value);
createApp(App).use(i18n).use(router).mount("#app");
