#define UTS_RELEASE "5.14.21-150500.55.65-default"
