import { createStudioI18n } from "../../i18n";

/** mount() options with the English messages installed */
export const withI18n = () => ({ global: { plugins: [createStudioI18n("en")] } });
