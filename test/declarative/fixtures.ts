/** Declarative definitions shared by the declarative tests, as they would arrive over HTTP (raw JSON). */

/** v1: one worker task. */
export const onboardingV1 = {
  name: 'customer_onboarding',
  description: 'Onboards a new customer',
  version: 1,
  ownerEmail: 'platform@example.com',
  inputParameters: ['customerId', 'profile'],
  tasks: [
    {
      name: 'normalize_customer_profile',
      taskReferenceName: 'normalize_customer_profile',
      inputParameters: { customerId: '${workflow.input.customerId}', profile: '${workflow.input.profile}' },
    },
  ],
  outputParameters: { profile: '${normalize_customer_profile.output.profile}' },
};

/** v2: v1 plus a risk tier assigned from the normalized profile. */
export const onboardingV2 = {
  ...onboardingV1,
  version: 2,
  tasks: [
    ...onboardingV1.tasks,
    {
      name: 'assign_risk_tier',
      taskReferenceName: 'assign_risk_tier',
      type: 'SIMPLE',
      inputParameters: { country: '${normalize_customer_profile.output.profile.country}' },
    },
  ],
  outputParameters: {
    profile: '${normalize_customer_profile.output.profile}',
    tier: '${assign_risk_tier.output.tier}',
  },
};

/** A definition using every task type once or more. */
export const fulfillment = {
  name: 'order_fulfillment',
  version: 3,
  timeoutSeconds: 86400,
  timeoutPolicy: 'TIME_OUT_WF',
  workflowStatusListenerEnabled: false,
  inputParameters: ['orderId', 'total'],
  tasks: [
    { name: 'reserve_stock', taskReferenceName: 'reserve', inputParameters: { orderId: '${workflow.input.orderId}' } },
    {
      name: 'route_by_size',
      taskReferenceName: 'route',
      type: 'SWITCH',
      evaluatorType: 'value-param',
      expression: 'size',
      inputParameters: { size: '${reserve.output.size}' },
      decisionCases: {
        big: [{ name: 'manual_review', taskReferenceName: 'review', type: 'HUMAN' }],
        small: [
          {
            name: 'compute_discount',
            taskReferenceName: 'discount',
            type: 'INLINE',
            inputParameters: {
              evaluatorType: 'javascript',
              expression: '$.total > 100 ? 0.1 : 0',
              total: '${workflow.input.total}',
            },
          },
        ],
      },
      defaultCase: [
        {
          name: 'reject',
          taskReferenceName: 'reject',
          type: 'TERMINATE',
          inputParameters: {
            terminationStatus: 'FAILED',
            terminationReason: 'unknown size',
            workflowOutput: { ok: false },
          },
        },
      ],
    },
    {
      name: 'ship',
      taskReferenceName: 'ship_fork',
      type: 'FORK_JOIN',
      forkTasks: [
        [
          {
            name: 'notify_carrier',
            taskReferenceName: 'carrier',
            type: 'HTTP',
            asyncComplete: false,
            inputParameters: {
              http_request: {
                uri: 'https://carrier.example/api/shipments',
                method: 'POST',
                headers: { 'X-Order': '${workflow.input.orderId}' },
                body: { order: '${workflow.input.orderId}' },
              },
            },
          },
        ],
        [{ name: 'email_customer', taskReferenceName: 'email', optional: true }],
      ],
    },
    { name: 'ship_join', taskReferenceName: 'ship_join', type: 'JOIN', joinOn: ['carrier', 'email'] },
    {
      name: 'poll_tracking',
      taskReferenceName: 'tracking_loop',
      type: 'DO_WHILE',
      loopCondition: '$.tracking_loop.iteration < 3',
      loopOver: [
        { name: 'check_tracking', taskReferenceName: 'check_tracking', retryCount: 5 },
        { name: 'pause', taskReferenceName: 'pause', type: 'WAIT', inputParameters: { duration: '1h' } },
      ],
    },
    {
      name: 'invoice',
      taskReferenceName: 'invoice',
      type: 'SUB_WORKFLOW',
      subWorkflowParam: { name: 'invoicing', version: 2 },
    },
    {
      name: 'remember',
      taskReferenceName: 'remember',
      type: 'SET_VARIABLE',
      inputParameters: { invoiceId: '${invoice.output.invoiceId}' },
    },
    { name: 'hold', taskReferenceName: 'hold_until', type: 'WAIT', inputParameters: { until: '2030-01-31 14:00 UTC' } },
  ],
  outputParameters: { invoiceId: '${workflow.variables.invoiceId}' },
};
